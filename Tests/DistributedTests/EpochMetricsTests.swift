import Distributed
import Foundation
import Testing

/// `metrics.jsonl`: the line the trainer writes reads back as it was, and lines of older runs still read.
struct EpochMetricsTests {
    /// A line as the trainer writes it (`EpochMetrics.jsonLine`: keys sorted).
    static let line = #"{"epoch":3,"epoch_seconds":1.5,"exchange_share":0.0625,"global_step":1407,"ranks":2,"#
        + #""samples_per_second":40000,"test_kl":25.5,"test_loss":260.75,"test_reconstruction":235.25,"#
        + #""train_kl":25.5,"train_loss":262.5,"train_reconstruction":237}"#

    static func readMetrics(_ lines: String) throws -> [EpochMetrics] {
        let path = NSTemporaryDirectory() + "vae-dist-metrics-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let run = RunDirectory(path: path)
        try Data(lines.utf8).write(to: URL(fileURLWithPath: run.metricsPath))
        return try run.readMetrics()
    }

    @Test func theLineTheTrainerWritesReadsBack() throws {
        let metrics = try #require(try Self.readMetrics(Self.line + "\n").first)
        #expect(metrics.exchangeShare == 0.0625 && metrics.epoch == 3 && metrics.testLoss == 260.75)
        #expect(metrics.jsonLine == Self.line)
    }

    @Test func aLineOfAnOlderRunWithAllreduceShareStillReads() throws {
        let old = Self.line.replacingOccurrences(of: #""exchange_share":0.0625,"#, with: "")
            .replacingOccurrences(of: "{", with: #"{"allreduce_share":0.0625,"#)
        #expect(old.contains("allreduce_share") && !old.contains("exchange_share"))
        #expect(try Self.readMetrics(old + "\n") == Self.readMetrics(Self.line + "\n"))
    }

    @Test func aLineWithNeitherKeyNamesItsLine() throws {
        let neither = Self.line.replacingOccurrences(of: #""exchange_share":0.0625,"#, with: "")
        let error = #expect(throws: TrainingError.self) { try Self.readMetrics(Self.line + "\n" + neither + "\n") }
        #expect(error?.description.contains("metrics.jsonl:2: not an epoch metrics line") == true)
    }

    @Test("a line whose loss went NaN or infinite (written as strings) reads back")
    func nonFiniteValuesReadBack() throws {
        let nan = Self.line.replacingOccurrences(of: #""test_loss":260.75"#, with: #""test_loss":"NaN""#)
            .replacingOccurrences(of: #""train_loss":262.5"#, with: #""train_loss":"Infinity""#)
        let metrics = try #require(try Self.readMetrics(nan + "\n").first)
        #expect(metrics.testLoss?.isNaN == true && metrics.trainLoss == .infinity)
        #expect(metrics.jsonLine == nan)
    }
}
