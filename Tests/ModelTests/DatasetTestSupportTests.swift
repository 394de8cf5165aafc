import Foundation
import Testing
@testable import Model
@testable import FileFormats
@testable import Datasets

/// Helpers shared by the IDX, Dataset, PNG, Checkpoint and Download tests (namespaced to avoid clashing with
/// other suites' helpers).
enum DataTestSupport {
    /// A fresh empty directory under the system temporary directory; remove it with `removeDirectory`.
    static func makeTemporaryDirectory(_ label: String = "vae-dist-test") -> String {
        let path = NSTemporaryDirectory() + "\(label)-\(getpid())-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func removeDirectory(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }

    static func write(_ bytes: [UInt8], to path: String) {
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
    }

    static func read(_ path: String) -> [UInt8] {
        [UInt8](FileManager.default.contents(atPath: path) ?? Data())
    }

    /// Deterministic small images: pixel = (image · 31 + position · 7) mod 256.
    static func images(count: Int, rows: Int = 28, cols: Int = 28) -> IDXImages {
        let pixels = (0..<count * rows * cols).map { i in UInt8(truncatingIfNeeded: (i / (rows * cols)) * 31 + (i % (rows * cols)) * 7) }
        return IDXImages(count: count, rows: rows, cols: cols, pixels: pixels)
    }

    static func labels(count: Int) -> [UInt8] {
        (0..<count).map { UInt8($0 % 10) }
    }

    /// Writes the four standard files of a small data set into `directory`, gzip'd when `gzip` is true.
    static func writeDataset(to directory: String, train: Int = 12, test: Int = 5, gzip: Bool = true) {
        let names = DatasetDescription.standardFileNames
        let contents = [
            IDX.encodeImages(images(count: train)), IDX.encodeLabels(labels(count: train)),
            IDX.encodeImages(images(count: test)), IDX.encodeLabels(labels(count: test)),
        ]
        for (name, body) in zip(names, contents) {
            write(gzip ? Gzip.compress(body) : body, to: directory + "/" + name + (gzip ? ".gz" : ""))
        }
    }

    /// Runs `body` and returns the `FileFormatError` it throws (failing the test if it throws nothing or something else).
    static func formatError(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> FileFormatError? {
        do {
            try body()
            Issue.record("expected a FileFormatError, got success", sourceLocation: sourceLocation)
        } catch let error as FileFormatError {
            #expect(!error.description.contains("\n"), "error must be one line: \(error)", sourceLocation: sourceLocation)
            return error
        } catch {
            Issue.record("expected a FileFormatError, got \(error)", sourceLocation: sourceLocation)
        }
        return nil
    }

    static let fashionMNISTDirectory = "/usr/share/datasets/fashion-mnist"
    static var hasFashionMNIST: Bool {
        DatasetDescription.standardFileNames.allSatisfy { FileManager.default.fileExists(atPath: fashionMNISTDirectory + "/" + $0 + ".gz") }
    }
    /// Why a test that needs the real data is skipped (a trait: the runner reports it as skipped).
    static let needsFashionMNIST = Testing.ConditionTrait.enabled(
        if: hasFashionMNIST, "needs \(fashionMNISTDirectory) (apt-get install dataset-fashion-mnist)")
    /// python3, for the tests that use an independent decoder or a local HTTP server.
    static var python3: String? {
        ["/usr/bin/python3", "/usr/local/bin/python3"].first(where: FileManager.default.isExecutableFile(atPath:))
    }
    static let needsPython3 = Testing.ConditionTrait.enabled(if: python3 != nil, "needs python3")
}
