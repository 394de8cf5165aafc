import Foundation
import Testing
@testable import FileFormats
@testable import Datasets

/// The test split is read with the train split (`.upFront`) or at its first use (`.onFirstUse`): a run that never
/// reads it does not hold it, and a bad test file gives the same one-line error either way, when it is read.
@Suite("Test split loading")
struct TestSplitLoadingTests {
    let root = DataTestSupport.makeTemporaryDirectory("test-split")

    /// A small data set whose t10k images file is damaged as `damage` says (nil: left intact).
    private func dataSet(_ name: String, damage: ((inout [UInt8]) -> Void)? = nil) -> String {
        let directory = root + "/" + name
        try! FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        DataTestSupport.writeDataset(to: directory, train: 12, test: 5, gzip: true)
        if let damage {
            var bytes = DataTestSupport.read(directory + "/t10k-images-idx3-ubyte.gz")
            damage(&bytes)
            DataTestSupport.write(bytes, to: directory + "/t10k-images-idx3-ubyte.gz")
        }
        return directory
    }

    /// Flips bytes in the middle of the deflate stream, as scripts/test-bad-inputs does.
    private static func corruptGzip(_ bytes: inout [UInt8]) {
        bytes[bytes.count / 2] ^= 0xff
        bytes[bytes.count / 2 + 1] ^= 0x55
    }

    @Test func onFirstUseReadsTheTestSplitOnlyWhenAsked() throws {
        defer { DataTestSupport.removeDirectory(root) }
        let dataset = try Dataset.load(directory: dataSet("good"), test: .onFirstUse)
        #expect(dataset.train.count == 12)
        #expect(dataset.testSplit.loaded == nil, "the test split was read although nothing asked for it")
        let test = try dataset.test
        #expect(test.count == 5 && test.images == DataTestSupport.images(count: 5))
        #expect(dataset.testSplit.loaded?.images == test.images)
        // Copies of the data set share the one split read.
        let copy = dataset
        #expect(copy.testSplit.loaded?.count == 5)
    }

    @Test func upFrontReadsTheTestSplitWithTheTrainSplit() throws {
        defer { DataTestSupport.removeDirectory(root) }
        let dataset = try Dataset.load(directory: dataSet("good"))
        #expect(dataset.testSplit.loaded?.count == 5)
    }

    @Test func aCorruptTestFileIsNotReadUntilNeededThenFailsWithItsOneLineError() throws {
        defer { DataTestSupport.removeDirectory(root) }
        let directory = dataSet("gzip", damage: Self.corruptGzip)
        let path = directory + "/t10k-images-idx3-ubyte.gz"
        // Needed up front (evaluation, images): the load itself fails, naming the file and the problem.
        let upFront = DataTestSupport.formatError { _ = try Dataset.load(directory: directory) }
        #expect(upFront?.path == path)
        #expect(upFront?.problem.hasPrefix("corrupt gzip stream") == true, "\(String(describing: upFront))")
        // Never needed: the load succeeds and the file is not read ...
        let dataset = try Dataset.load(directory: directory, test: .onFirstUse)
        #expect(dataset.testSplit.loaded == nil)
        // ... and reading it later gives the same error, every time.
        let later = DataTestSupport.formatError { _ = try dataset.test }
        #expect(later?.description == upFront?.description)
        #expect(DataTestSupport.formatError { _ = try dataset.test }?.description == upFront?.description)
        #expect(dataset.testSplit.loaded == nil)
    }

    @Test func testImagesOfAnotherSizeAreRefusedWhenRead() throws {
        defer { DataTestSupport.removeDirectory(root) }
        let directory = dataSet("shape")
        let path = directory + "/t10k-images-idx3-ubyte.gz"
        DataTestSupport.write(Gzip.compress(IDX.encodeImages(DataTestSupport.images(count: 5, rows: 14, cols: 14))), to: path)
        let message = "\(path): test images are 14×14 but train images are 28×28"
        #expect(DataTestSupport.formatError { _ = try Dataset.load(directory: directory) }?.description == message)
        let lazy = try Dataset.load(directory: directory, test: .onFirstUse)
        #expect(DataTestSupport.formatError { _ = try lazy.test }?.description == message)
    }

    @Test func aMissingTestFileStillStopsTheLoad() {
        defer { DataTestSupport.removeDirectory(root) }
        let directory = dataSet("missing")
        try? FileManager.default.removeItem(atPath: directory + "/t10k-labels-idx1-ubyte.gz")
        // Finding the data set needs all four files, whether or not the test split is read.
        for loading in [TestSplitLoading.upFront, .onFirstUse] {
            let error = DataTestSupport.formatError { _ = try Dataset.load(directory: directory, test: loading) }
            #expect(error?.description == "\(directory): missing t10k-labels-idx1-ubyte[.gz]")
        }
    }
}
