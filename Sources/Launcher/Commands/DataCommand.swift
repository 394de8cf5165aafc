import ArgumentParser
import Foundation
import Model
import FileFormats
import Datasets

/// `vae-dist data`: getting data sets.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Download and inspect data sets.",
        subcommands: [Download.self, Show.self])

    /// `vae-dist data download mnist`
    struct Download: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fetch a data set's four IDX files from the usual mirrors and verify their MD5.",
            discussion: """
                Examples:
                  vae-dist data download mnist                 into ./data/mnist
                  vae-dist data download fashion-mnist --to /srv/data/fashion-mnist
                  vae-dist data download mnist --mirror http://127.0.0.1:8000/
                Without network: Debian's `apt-get install dataset-fashion-mnist` installs Fashion-MNIST.
                """)

        @Argument(help: "mnist or fashion-mnist.")
        var name: String
        @Option(help: "Target directory (default: ./data/<name>).")
        var to: String?
        @Option(name: .customLong("mirror"), help: "A mirror URL to try instead of the defaults (repeatable).")
        var mirrors: [String] = []
        @Option(help: "Seconds to wait for a server before trying the next mirror.")
        var timeout: Double = 60

        func validate() throws {
            guard DatasetDescription.named(name) != nil else {
                throw ValidationError("unknown data set '\(name)'; known: \(DatasetDescription.known.map(\.name).joined(separator: ", ")).")
            }
            guard timeout > 0 && timeout.isFinite else { throw ValidationError("--timeout must be positive.") }
        }

        func run() throws {
            let files = try downloadDataset(named: name, to: to, mirrors: mirrors.isEmpty ? nil : mirrors,
                                            timeout: timeout, progress: { print($0) })
            let directory = (files.first?.path as NSString?)?.deletingLastPathComponent ?? "."
            print("vae-dist: \(name) is ready in \(directory) (\(files.map(\.bytes).reduce(0, +)) bytes, checksums verified)")
        }
    }

    /// `vae-dist data show fashion-mnist`
    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load a data set, validate it, and print where it was found and its sizes.")
        @OptionGroup var data: DataOptions

        func run() throws {
            let dataset = try data.load()
            print("\(dataset.name): \(dataset.directory)")
            print("train: \(dataset.train.count) images of \(dataset.train.images.rows)×\(dataset.train.images.cols)")
            let test = try dataset.test
            print("test:  \(test.count) images of \(test.images.rows)×\(test.images.cols)")
        }
    }
}
