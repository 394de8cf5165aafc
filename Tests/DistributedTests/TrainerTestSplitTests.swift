import Distributed
import Foundation
import Model
import Testing
@testable import FileFormats
@testable import Datasets

/// The trainer reads the test split at start exactly when the run will read it (evaluation; rank 0's per-epoch
/// images), so a bad test file stops such a run before its first step, and a run that never reads it never
/// loads it, even from a data set loaded with `.onFirstUse`.
@Suite struct TrainerTestSplitTests {
    let directory = NSTemporaryDirectory() + "vae-dist-test-split-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"

    /// A data set of 32 train and 8 test images in a fresh directory; its t10k images file has a corrupt gzip
    /// stream when `corrupt`.
    private func writeDataSet(corrupt: Bool) throws -> String {
        let data = directory + "/data"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        func images(_ count: Int) -> IDXImages {
            IDXImages(count: count, rows: 28, cols: 28, pixels: (0..<count * 784).map { UInt8(truncatingIfNeeded: $0 * 7) })
        }
        let labels = { (count: Int) in (0..<count).map { UInt8($0 % 10) } }
        var testImages = Gzip.compress(IDX.encodeImages(images(8)))
        if corrupt {
            testImages[testImages.count / 2] ^= 0xff
            testImages[testImages.count / 2 + 1] ^= 0x55
        }
        let files: [(String, [UInt8])] = [
            ("train-images-idx3-ubyte.gz", Gzip.compress(IDX.encodeImages(images(32)))),
            ("train-labels-idx1-ubyte.gz", Gzip.compress(IDX.encodeLabels(labels(32)))),
            ("t10k-images-idx3-ubyte.gz", testImages),
            ("t10k-labels-idx1-ubyte.gz", Gzip.compress(IDX.encodeLabels(labels(8)))),
        ]
        for (name, bytes) in files {
            _ = FileManager.default.createFile(atPath: data + "/" + name, contents: Data(bytes))
        }
        return data
    }

    private func config(evaluate: Bool, images: Bool) -> TrainingConfig {
        var config = TrainingConfig()
        config.architecture = "16"
        config.latent = 2
        config.globalBatch = 8
        config.maxSteps = 2
        config.evaluateEveryEpoch = evaluate
        config.imagesEveryEpoch = images
        return config
    }

    @Test func aRunThatNeverReadsTheTestSplitNeverLoadsIt() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let dataset = try Dataset.load(directory: writeDataSet(corrupt: true), test: .onFirstUse)
        // No evaluation, and images without a run directory are never drawn: a damaged t10k file does not matter.
        for (evaluate, images) in [(false, false), (false, true)] {
            let trainer = try DataParallelTrainer(config: config(evaluate: evaluate, images: images), dataset: dataset,
                                                  world: SingleProcessCommunicator(), runDirectory: nil)
            trainer.log = { _ in }
            let metrics = try trainer.run()
            #expect(metrics?.testLoss == nil && trainer.globalStep == 2)
        }
        #expect(dataset.testSplit.loaded == nil)
    }

    @Test(arguments: [(true, false), (false, true), (true, true)])
    func aRunThatReadsTheTestSplitLoadsItAtStart(evaluate: Bool, images: Bool) throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let dataset = try Dataset.load(directory: writeDataSet(corrupt: false), test: .onFirstUse)
        let trainer = try DataParallelTrainer(config: config(evaluate: evaluate, images: images), dataset: dataset,
                                              world: SingleProcessCommunicator(), runDirectory: RunDirectory(path: directory + "/run"))
        #expect(dataset.testSplit.loaded?.count == 8, "not read before the first step")
        trainer.log = { _ in }
        let metrics = try trainer.run()
        #expect((metrics?.testLoss != nil) == evaluate)
    }

    @Test(arguments: [(true, false), (false, true)])
    func aCorruptTestFileStopsARunThatReadsItBeforeItsFirstStep(evaluate: Bool, images: Bool) throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let data = try writeDataSet(corrupt: true)
        let dataset = try Dataset.load(directory: data, test: .onFirstUse)
        do {
            _ = try DataParallelTrainer(config: config(evaluate: evaluate, images: images), dataset: dataset,
                                        world: SingleProcessCommunicator(), runDirectory: RunDirectory(path: directory + "/run"))
            Issue.record("the trainer started although its test file is corrupt")
        } catch {
            // The reader's one line, naming the file, as an agreed failure of all ranks.
            #expect(error is AgreedFailure)
            #expect("\(error)".hasPrefix("\(data)/t10k-images-idx3-ubyte.gz: corrupt gzip stream"), "\(error)")
            #expect(!"\(error)".contains("\n"))
        }
    }
}
