import Foundation
import Testing
@testable import Model
@testable import FileFormats

private struct RunMetadata: Codable, Equatable {
    var modelKind = "vae"
    var layers = [784, 500, 20]
    var seed: UInt64 = 7
    var step = 1200
    var epoch = 3
    var configHash = "9f2c"
}

@Suite("Checkpoint format")
struct CheckpointFormatTests {
    let directory = DataTestSupport.makeTemporaryDirectory("ckpt")

    private let tensors = [
        CheckpointTensor(name: "parameters", values: [1, -2.5, .pi, .infinity, -0.0, Float(bitPattern: 0x7fc0_1234)]),
        CheckpointTensor(name: "adam.m", values: []),
        CheckpointTensor(name: "adam.v", values: (0..<37).map { Float($0) * 0.125 }),
    ]

    private func encoded() throws -> [UInt8] { try CheckpointFile.encode(metadata: RunMetadata(), tensors: tensors) }

    private func decodeError(_ bytes: [UInt8]) -> FileFormatError? {
        DataTestSupport.formatError { _ = try CheckpointFile.decode(RunMetadata.self, from: bytes, path: "/run/c.vaeckpt") }
    }

    @Test("a checkpoint written from borrowed buffers is byte for byte the encoded one")
    func writingFromViewsMatchesEncoding() throws {
        defer { DataTestSupport.removeDirectory(directory) }
        let path = directory + "/views.vaeckpt"
        let storage = tensors.map { tensor in
            let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: tensor.values.count)
            _ = buffer.initialize(from: tensor.values)
            return buffer
        }
        defer { storage.forEach { $0.deallocate() } }
        let views = zip(tensors, storage).map { CheckpointTensorView(name: $0.name, values: UnsafeBufferPointer($1)) }
        try CheckpointFile.write(metadata: RunMetadata(), tensors: views, to: path)
        let written = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(written == (try encoded()))
        #expect(written.count > 200)
    }

    @Test func roundTripPreservesMetadataAndEveryBit() throws {
        defer { DataTestSupport.removeDirectory(directory) }
        let path = directory + "/c.vaeckpt"
        try CheckpointFile.write(metadata: RunMetadata(), tensors: tensors, to: path)
        let read = try CheckpointFile.read(RunMetadata.self, from: path)
        #expect(read.metadata == RunMetadata())
        #expect(read.tensors.map(\.name) == tensors.map(\.name))
        for (a, b) in zip(read.tensors, tensors) { #expect(a.values.map(\.bitPattern) == b.values.map(\.bitPattern)) }
        #expect(try read.tensor("adam.v", count: 37).count == 37)
        #expect(DataTestSupport.formatError { _ = try read.tensor("adam.v", count: 38) }?.problem == "tensor 'adam.v' has 37 values but this model needs 38")
        #expect(DataTestSupport.formatError { _ = try read.tensor("rng") }?.problem == "no tensor named 'rng' (it holds: parameters, adam.m, adam.v)")
        #expect(Array(DataTestSupport.read(path).prefix(8)) == Array("VAEDCKPT".utf8))
    }

    @Test func everySingleBitFlipIsDetected() throws {
        let good = try encoded()
        for byte in 0..<good.count {
            for bit in 0..<8 {
                var damaged = good
                damaged[byte] ^= 1 << bit
                #expect(decodeError(damaged) != nil, "flip at byte \(byte) bit \(bit) went unnoticed")
            }
        }
        var flipped = good
        flipped[60] ^= 4
        #expect(decodeError(flipped)?.description == "/run/c.vaeckpt: checksum mismatch: file is damaged")
    }

    @Test func everyTruncationIsDetected() throws {
        let good = try encoded()
        for length in 0..<good.count {
            let error = decodeError(Array(good[..<length]))
            #expect(error?.problem.hasPrefix("truncated") == true || (length == 0 && error != nil), "length \(length): \(error?.description ?? "-")")
        }
        #expect(decodeError(Array(good[..<100]))?.problem == "truncated: the header says \(good.count) bytes but the file holds 100")
        #expect(decodeError(good + [0])?.problem.hasPrefix("trailing data") == true)
    }

    @Test func badMagicFutureVersionAndRandomBytes() throws {
        var bytes = try encoded()
        bytes[0] = UInt8(ascii: "X")
        #expect(decodeError(bytes)?.problem == "not a vae-dist checkpoint (bad magic)")
        bytes = try encoded()
        bytes[8] = 7
        #expect(decodeError(bytes)?.problem == "format version 7 is newer than this build understands (1)")
        var generator = SplitMix64(seed: 3)
        for _ in 0..<200 {
            var random = (0..<Int(generator.next() % 200)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            if generator.next() % 2 == 0 { random = Array("VAEDCKPT".utf8) + [1, 0, 0, 0] + random }  // get past the magic
            #expect(decodeError(random) != nil)
        }
    }

    @Test func wrongMetadataTypeSaysWhichField() throws {
        struct Other: Codable { var learningRate: Double }
        let error = DataTestSupport.formatError { _ = try CheckpointFile.decode(Other.self, from: try encoded(), path: "/c") }
        #expect(error?.problem == "header does not describe a Other: missing field 'learningRate'")
    }

    @Test func emptyFileAndDirectory() throws {
        defer { DataTestSupport.removeDirectory(directory) }
        DataTestSupport.write([], to: directory + "/empty")
        #expect(DataTestSupport.formatError { _ = try CheckpointFile.read(RunMetadata.self, from: directory + "/empty") }?.problem == "empty file")
        #expect(DataTestSupport.formatError { _ = try CheckpointFile.read(RunMetadata.self, from: directory) }?.problem == "is a directory, expected a file")
    }

    @Test func failedWriteLeavesThePreviousCheckpoint() throws {
        defer { DataTestSupport.removeDirectory(directory) }
        let path = directory + "/c.vaeckpt"
        try CheckpointFile.write(metadata: RunMetadata(), tensors: tensors, to: path)
        let before = DataTestSupport.read(path)
        var newer = RunMetadata()
        newer.step = 2400
        let error = DataTestSupport.formatError {
            try CheckpointFile.write(metadata: newer, tensors: tensors, to: path, injectedFailure: .init(afterBytes: 50))
        }
        #expect(error?.problem.hasPrefix("cannot write: No space left on device after 50 of") == true)
        #expect(DataTestSupport.read(path) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["c.vaeckpt"])  // temporary removed
    }

    /// A real full disk: a 64 KiB tmpfs (needs root to mount one; reported as skipped elsewhere, where the
    /// injected-failure test still covers the logic).
    @Test(.enabled(if: getuid() == 0, "needs root to mount a 64 KiB tmpfs"))
    func fullDiskLeavesThePreviousCheckpoint() throws {
        defer { DataTestSupport.removeDirectory(directory) }
        let mountPoint = directory + "/tiny"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        try #require(run("/bin/mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", mountPoint]) == 0,
                     "mount -t tmpfs failed although running as root")
        defer { _ = run("/bin/umount", [mountPoint]) }
        let path = mountPoint + "/c.vaeckpt"
        try CheckpointFile.write(metadata: RunMetadata(), tensors: tensors, to: path)
        let before = DataTestSupport.read(path)
        let big = [CheckpointTensor(name: "parameters", values: [Float](repeating: 1, count: 40_000))]  // 160 KB > 64 KiB
        let error = DataTestSupport.formatError { try CheckpointFile.write(metadata: RunMetadata(), tensors: big, to: path) }
        #expect(error?.problem.contains("No space left on device") == true)
        #expect(DataTestSupport.read(path) == before)
        #expect(try CheckpointFile.read(RunMetadata.self, from: path).metadata == RunMetadata())
        #expect(try FileManager.default.contentsOfDirectory(atPath: mountPoint) == ["c.vaeckpt"])
        // Read-only: remount and try again.
        try #require(run("/bin/mount", ["-o", "remount,ro", mountPoint]) == 0, "remounting \(mountPoint) read-only failed")
        let readOnly = DataTestSupport.formatError { try CheckpointFile.write(metadata: RunMetadata(), tensors: tensors, to: path) }
        #expect(readOnly?.problem.hasPrefix("cannot write: Read-only file system") == true)
        #expect(DataTestSupport.read(path) == before)
    }

    @Test func directoryKeepsNewestAndFindsTheLatestComplete() throws {
        defer { DataTestSupport.removeDirectory(directory) }
        let run = CheckpointDirectory(path: directory + "/run")
        #expect(CheckpointDirectory.fileName(step: 1200) == "checkpoint-000001200.vaeckpt")
        #expect(CheckpointDirectory.step(fromFileName: "checkpoint-000001200.vaeckpt") == 1200)
        #expect(CheckpointDirectory.step(fromFileName: "checkpoint-x.vaeckpt") == nil)
        for step in [100, 200, 300, 400] {
            var metadata = RunMetadata()
            metadata.step = step
            try run.save(metadata: metadata, tensors: tensors, step: step, keep: 2)
        }
        #expect(try run.checkpoints().map(\.step) == [300, 400])
        #expect(try run.newest() == run.path + "/checkpoint-000000400.vaeckpt")
        #expect(String(decoding: DataTestSupport.read(run.path + "/latest"), as: UTF8.self) == "checkpoint-000000400.vaeckpt\n")
        // Damage the newest: newest() falls back to the last one that verifies.
        var bytes = DataTestSupport.read(run.path + "/checkpoint-000000400.vaeckpt")
        bytes[bytes.count / 2] ^= 1
        DataTestSupport.write(bytes, to: run.path + "/checkpoint-000000400.vaeckpt")
        #expect(try run.newest() == run.path + "/checkpoint-000000300.vaeckpt")
        // A crash's temporary file is cleaned by the next prune.
        DataTestSupport.write([1, 2, 3], to: run.path + "/.checkpoint-000000500.vaeckpt.tmp-1-2")
        try run.prune(keep: 2)
        #expect(!FileManager.default.fileExists(atPath: run.path + "/.checkpoint-000000500.vaeckpt.tmp-1-2"))
    }

    private func run(_ tool: String, _ arguments: [String]) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }
}
