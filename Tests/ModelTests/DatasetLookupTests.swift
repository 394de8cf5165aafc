import Foundation
import Testing
@testable import Model
@testable import FileFormats
@testable import Datasets

@Suite("Dataset lookup and loading")
struct DatasetLookupTests {
    let root = DataTestSupport.makeTemporaryDirectory("datasets")

    private func makeDirectory(_ relative: String) -> String {
        let path = root + "/" + relative
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func loadsADirectoryOfMixedPlainAndGzipFiles() throws {
        defer { DataTestSupport.removeDirectory(root) }
        let directory = makeDirectory("mixed")
        DataTestSupport.writeDataset(to: directory, train: 12, test: 5, gzip: true)
        // Replace one file by its plain version: the plain file is preferred when both exist.
        let plain = IDX.encodeLabels(DataTestSupport.labels(count: 12))
        DataTestSupport.write(plain, to: directory + "/train-labels-idx1-ubyte")
        let dataset = try Dataset.load(directory: directory)
        #expect(try dataset.train.count == 12 && dataset.test.count == 5)
        #expect(dataset.train.featureCount == 784)
        #expect(dataset.train.labels == DataTestSupport.labels(count: 12))
        #expect(try dataset.test.images == DataTestSupport.images(count: 5))
    }

    @Test func lookupOrderIsFlagThenEnvironmentThenLocalThenSystem() throws {
        defer { DataTestSupport.removeDirectory(root) }
        let flag = makeDirectory("flag"), env = makeDirectory("env/mnist"), local = makeDirectory("local/mnist"), system = makeDirectory("system/mnist")
        for directory in [flag, env, local, system] { DataTestSupport.writeDataset(to: directory, gzip: false) }
        func locate(_ dataDirectory: String?, _ environment: [String: String]) throws -> String {
            try DatasetLocator.locate("mnist", dataDirectory: dataDirectory, environment: environment,
                                      localRoot: root + "/local", systemRoot: root + "/system")
        }
        let environment = ["VAE_DIST_DATA": root + "/env"]
        #expect(try locate(flag, environment) == flag)
        #expect(try locate(nil, environment) == env)
        #expect(try locate(nil, [:]) == local)
        DataTestSupport.removeDirectory(local)
        #expect(try locate(nil, [:]) == system)
        // The flag may also name a root holding <name>/.
        #expect(try locate(root + "/env", [:]) == env)
    }

    @Test func missingDataSetErrorNamesEveryPlaceAndHowToGetIt() {
        defer { DataTestSupport.removeDirectory(root) }
        let incomplete = makeDirectory("local/mnist")
        DataTestSupport.write(IDX.encodeLabels([1]), to: incomplete + "/train-labels-idx1-ubyte.gz")
        let error = DataTestSupport.formatError {
            _ = try DatasetLocator.locate("mnist", dataDirectory: root + "/flag", environment: ["VAE_DIST_DATA": root + "/env"],
                                          localRoot: root + "/local", systemRoot: root + "/system")
        }
        let message = error?.description ?? ""
        for place in [root + "/flag", root + "/env/mnist", "\(root)/local/mnist (lacks train-images-idx3-ubyte[.gz], t10k-images", root + "/system/mnist",
                      "vae-dist data download mnist", "--dataset fashion-mnist", "apt-get install dataset-fashion-mnist"] {
            #expect(message.contains(place), "\(place) missing from: \(message)")
        }
        let fashion = DataTestSupport.formatError {
            _ = try DatasetLocator.locate("fashion-mnist", localRoot: root + "/local", systemRoot: root + "/system")
        }
        #expect(fashion?.description.contains("$VAE_DIST_DATA unset") == true)
        #expect(fashion?.description.contains("apt-get install dataset-fashion-mnist") == true)
    }

    @Test func anyDirectoryWorksAsAName() throws {
        defer { DataTestSupport.removeDirectory(root) }
        let directory = makeDirectory("custom")
        DataTestSupport.writeDataset(to: directory)
        #expect(try DatasetLocator.locate(directory) == directory)
        let dataset = try Dataset.load(directory, environment: [:])
        #expect(dataset.train.count == 12)
        let error = DataTestSupport.formatError { _ = try DatasetLocator.locate(root + "/nothing-here") }
        #expect(error?.problem.hasPrefix("no such data set: not one of mnist, fashion-mnist") == true)
    }

    @Test func badFileInsideADataSetIsNamed() {
        defer { DataTestSupport.removeDirectory(root) }
        let directory = makeDirectory("bad")
        DataTestSupport.writeDataset(to: directory, train: 12, test: 5)
        // Test labels say 6 examples while test images hold 5.
        DataTestSupport.write(Gzip.compress(IDX.encodeLabels(DataTestSupport.labels(count: 6))), to: directory + "/t10k-labels-idx1-ubyte.gz")
        let error = DataTestSupport.formatError { _ = try Dataset.load(directory: directory) }
        #expect(error?.description == "\(directory)/t10k-labels-idx1-ubyte.gz: label count 6 does not match image count 5")
        // A directory in place of a file.
        try? FileManager.default.removeItem(atPath: directory + "/t10k-labels-idx1-ubyte.gz")
        _ = makeDirectory("bad/t10k-labels-idx1-ubyte")
        #expect(DataTestSupport.formatError { _ = try Dataset.load(directory: directory) }?.problem == "is a directory, expected a file")
    }

    @Test func namesAreCaseAndSeparatorTolerant() {
        #expect(DatasetDescription.named("MNIST") == .mnist)
        #expect(DatasetDescription.named("fashion_mnist") == .fashionMNIST)
        #expect(DatasetDescription.named("Fashion-MNIST") == .fashionMNIST)
        #expect(DatasetDescription.named("cifar10") == nil)
    }

    /// Real data: Debian's dataset-fashion-mnist. Skipped (with a message) where it is not installed.
    @Test(DataTestSupport.needsFashionMNIST) func loadsRealFashionMNIST() throws {
        defer { DataTestSupport.removeDirectory(root) }
        let located = try DatasetLocator.locate("fashion-mnist", environment: [:], localRoot: root + "/none")
        #expect(located == DataTestSupport.fashionMNISTDirectory)
        let dataset = try Dataset.load(directory: located, name: "fashion-mnist")
        #expect(try dataset.train.count == 60_000 && dataset.test.count == 10_000)
        #expect(dataset.train.images.rows == 28 && dataset.train.images.cols == 28)
        var perClass = [Int](repeating: 0, count: 10)
        for label in dataset.train.labels { perClass[Int(label)] += 1 }
        #expect(perClass == [Int](repeating: 6000, count: 10))
        #expect(try Set(dataset.test.labels) == Set(0...9))
        // A batch of real images is in [0, 1] and not blank.
        var batch = [Float](repeating: -1, count: 4 * 784)
        batch.withUnsafeMutableBufferPointer { dataset.train.fillBatch(indices: [0, 1, 59_999, 12_345], into: $0.baseAddress!) }
        #expect(batch.allSatisfy { $0 >= 0 && $0 <= 1 })
        #expect(batch.reduce(0, +) > 100)
    }
}
