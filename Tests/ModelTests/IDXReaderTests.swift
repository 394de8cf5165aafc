import Foundation
import Testing
@testable import Model
@testable import FileFormats
@testable import Datasets

@Suite("IDX reader")
struct IDXReaderTests {
    let directory = DataTestSupport.makeTemporaryDirectory("idx")

    private func file(_ name: String, _ bytes: [UInt8]) -> String {
        let path = directory + "/" + name
        DataTestSupport.write(bytes, to: path)
        return path
    }

    private func header(_ words: [UInt32]) -> [UInt8] {
        words.flatMap { w in (0..<4).map { UInt8(truncatingIfNeeded: w >> (24 - 8 * $0)) } }
    }

    @Test func plainAndGzipRoundTrip() throws {
        defer { DataTestSupport.removeDirectory(directory) }
        let images = DataTestSupport.images(count: 7, rows: 5, cols: 3)
        let labels: [UInt8] = [0, 9, 3, 4, 5, 1, 2]
        let encodedImages = IDX.encodeImages(images), encodedLabels = IDX.encodeLabels(labels)
        // Named without .gz on purpose: detection is by content.
        #expect(try IDX.readImages(path: file("images-plain", encodedImages)) == images)
        #expect(try IDX.readImages(path: file("images-gzip", Gzip.compress(encodedImages))) == images)
        #expect(try IDX.readLabels(path: file("labels-plain.gz", encodedLabels)) == labels)
        #expect(try IDX.readLabels(path: file("labels-gzip", Gzip.compress(encodedLabels))) == labels)
    }

    @Test func concatenatedGzipMembersReadAsOneStream() throws {
        defer { DataTestSupport.removeDirectory(directory) }
        let encoded = IDX.encodeImages(DataTestSupport.images(count: 4, rows: 6, cols: 6))
        let split = 37
        let path = file("two-members.gz", Gzip.compress(Array(encoded[..<split])) + Gzip.compress(Array(encoded[split...])))
        #expect(try IDX.readImages(path: path).pixels == Array(encoded[16...]))
    }

    @Test func truncatedBodyNamesFileAndSizes() {
        defer { DataTestSupport.removeDirectory(directory) }
        let path = file("train-images-idx3-ubyte", header([0x803, 60000, 28, 28]) + [UInt8](repeating: 0, count: 1200))
        let error = DataTestSupport.formatError { _ = try IDX.readImages(path: path) }
        #expect(error?.description == "\(path): truncated: header says 60000×28×28 images (47040000 bytes) but the file holds 1200 bytes")
        let gz = file("t.gz", Gzip.compress(header([0x803, 60000, 28, 28]) + [UInt8](repeating: 0, count: 1200)))
        let gzError = DataTestSupport.formatError { _ = try IDX.readImages(path: gz) }
        #expect(gzError?.description == "\(gz): truncated: header says 60000×28×28 images (47040000 bytes) but the decompressed data holds 1200 bytes")
    }

    @Test func truncatedHeader() {
        defer { DataTestSupport.removeDirectory(directory) }
        let path = file("short", header([0x803, 2]) + [0, 0])
        #expect(DataTestSupport.formatError { _ = try IDX.readImages(path: path) }?.problem.hasPrefix("truncated: an IDX images header is 16 bytes") == true)
        let gz = file("short.gz", Gzip.compress([0, 0, 8]))
        #expect(DataTestSupport.formatError { _ = try IDX.readLabels(path: gz) }?.problem.contains("truncated") == true)
    }

    @Test func trailingDataIsRejected() {
        defer { DataTestSupport.removeDirectory(directory) }
        let body = IDX.encodeLabels([1, 2, 3]) + [7]
        let plain = file("plain", body)
        #expect(DataTestSupport.formatError { _ = try IDX.readLabels(path: plain) }?.problem == "trailing data: header says 3 labels (3 bytes) but the file holds 4 bytes")
        let gz = file("gz", Gzip.compress(body))
        #expect(DataTestSupport.formatError { _ = try IDX.readLabels(path: gz) }?.problem.hasPrefix("trailing data") == true)
        let garbage = file("garbage.gz", Gzip.compress(IDX.encodeLabels([1, 2, 3])) + [0, 0, 0, 0])
        #expect(DataTestSupport.formatError { _ = try IDX.readLabels(path: garbage) }?.problem == "trailing garbage after the gzip stream")
    }

    @Test func corruptGzipIsAnErrorNotACrash() throws {
        defer { DataTestSupport.removeDirectory(directory) }
        let good = Gzip.compress(IDX.encodeImages(DataTestSupport.images(count: 20, rows: 28, cols: 28)))
        let cut = file("cut.gz", Array(good[..<(good.count / 2)]))
        #expect(DataTestSupport.formatError { _ = try IDX.readImages(path: cut) }?.problem.hasPrefix("corrupt gzip stream: the compressed data ends early") == true)
        var flipped = good
        flipped[good.count - 6] ^= 0xff  // inside the CRC-32 trailer
        let badCRC = file("crc.gz", flipped)
        #expect(DataTestSupport.formatError { _ = try IDX.readImages(path: badCRC) }?.problem.hasPrefix("corrupt gzip stream") == true)
        // Flip every 97th byte, one at a time: each result is either a clean error or (rarely) the right data.
        for position in stride(from: 10, to: good.count, by: 97) {
            var damaged = good
            damaged[position] ^= 0x5a
            let path = file("flip.gz", damaged)
            do { _ = try IDX.readImages(path: path) } catch let error as FileFormatError {
                #expect(error.path == path)
            }
        }
    }

    @Test func wrongMagic() {
        defer { DataTestSupport.removeDirectory(directory) }
        let labels = file("labels", IDX.encodeLabels([1, 2]))
        #expect(DataTestSupport.formatError { _ = try IDX.readImages(path: labels) }?.problem == "expected an IDX images file (magic 0x00000803) but this is an IDX labels file")
        let text = file("text", Array("hello, this is not IDX at all".utf8))
        #expect(DataTestSupport.formatError { _ = try IDX.readLabels(path: text) }?.problem == "not an IDX labels file (magic 0x68656c6c, expected 0x00000801)")
    }

    @Test func implausibleDimensionsAreRejectedBeforeAllocating() {
        defer { DataTestSupport.removeDirectory(directory) }
        let cases: [([UInt32], String)] = [
            ([0x803, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff], "more than the 100000000 this reader accepts"),
            ([0x803, 100, 0xffff_ffff, 0xffff_ffff], "each side must be 1…4096"),
            ([0x803, 100, 0, 28], "each side must be 1…4096"),
            ([0x803, 100, 4097, 1], "each side must be 1…4096"),
            ([0x803, 100_000_000, 4096, 4096], "more than the 4294967296 bytes this reader accepts"),
        ]
        for (words, message) in cases {
            for gzip in [false, true] {
                let body = header(words) + [1, 2, 3]
                let path = file("dims", gzip ? Gzip.compress(body) : body)
                let error = DataTestSupport.formatError { _ = try IDX.readImages(path: path) }
                #expect(error?.problem.contains(message) == true, "\(words): \(error?.description ?? "no error")")
            }
        }
        // A huge but allowed header with a tiny gzip body fails as truncated without allocating the claimed size.
        let bomb = file("bomb.gz", Gzip.compress(header([0x803, 60_000, 4096, 16]) + [UInt8](repeating: 0, count: 100)))
        #expect(DataTestSupport.formatError { _ = try IDX.readImages(path: bomb) }?.problem.hasPrefix("truncated") == true)
    }

    @Test func labelsMustBeBelowTen() {
        defer { DataTestSupport.removeDirectory(directory) }
        let path = file("labels", IDX.encodeLabels([0, 9, 10, 3]))
        #expect(DataTestSupport.formatError { _ = try IDX.readLabels(path: path) }?.problem == "label 10 at index 2 is out of range 0…9")
    }

    @Test func emptyFileDirectoryAndMissingFile() {
        defer { DataTestSupport.removeDirectory(directory) }
        let empty = file("empty", [])
        #expect(DataTestSupport.formatError { _ = try IDX.readImages(path: empty) }?.problem == "empty file")
        #expect(DataTestSupport.formatError { _ = try IDX.readImages(path: directory) }?.problem == "is a directory, expected a file")
        let missing = directory + "/nope"
        #expect(DataTestSupport.formatError { _ = try IDX.readLabels(path: missing) }?.description == "\(missing): cannot open: No such file or directory")
    }

    @Test func randomBytesNeverCrash() {
        defer { DataTestSupport.removeDirectory(directory) }
        var generator = SplitMix64(seed: 42)
        for trial in 0..<300 {
            let count = Int(generator.next() % 64) + 1
            var bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            // Half the trials start with a real magic so the header path is exercised, a quarter look like gzip.
            if trial % 2 == 0, bytes.count >= 4 { bytes[0...3] = [0, 0, 8, trial % 4 == 0 ? 3 : 1] }
            if trial % 4 == 1, bytes.count >= 2 { bytes[0...1] = [0x1f, 0x8b] }
            let path = file("random", bytes)
            #expect(throws: FileFormatError.self) { _ = try IDX.readImages(path: path) }
            #expect(throws: FileFormatError.self) { _ = try IDX.readLabels(path: path) }
        }
    }

    @Test func countMismatchBetweenImagesAndLabels() {
        let error = DataTestSupport.formatError {
            _ = try DataSplit(images: DataTestSupport.images(count: 3, rows: 2, cols: 2), labels: [1, 2], labelsPath: "/d/labels")
        }
        #expect(error?.description == "/d/labels: label count 2 does not match image count 3")
    }

    @Test func fillBatchMatchesReference() throws {
        let images = DataTestSupport.images(count: 9, rows: 5, cols: 7)  // 35 pixels: a SIMD part and a tail
        let split = try DataSplit(images: images, labels: DataTestSupport.labels(count: 9))
        let indices = [8, 0, 3, 3]
        var batch = [Float](repeating: -1, count: indices.count * split.featureCount)
        batch.withUnsafeMutableBufferPointer { split.fillBatch(indices: indices, into: $0.baseAddress!) }
        let expected = indices.flatMap { convertPixelsReference(Array(images.pixels[$0 * 35..<($0 + 1) * 35])) }
        #expect(batch == expected)
        #expect(batch.allSatisfy { $0 >= 0 && $0 <= 1 })
        var oneHot = [Float](repeating: -1, count: indices.count * 10)
        oneHot.withUnsafeMutableBufferPointer { buffer in
            indices.withUnsafeBufferPointer { split.fillOneHotLabels(indices: $0, into: buffer.baseAddress!) }
        }
        #expect(oneHot[0 * 10 + 8] == 1 && oneHot[1 * 10 + 0] == 1 && oneHot[3 * 10 + 3] == 1)
        #expect(oneHot.reduce(0, +) == 4)
    }

    @Test func pixelConversionIsExactForEveryByte() {
        let bytes = (0..<256).map { UInt8($0) } + [255, 0, 7]
        var out = [Float](repeating: 0, count: bytes.count)
        out.withUnsafeMutableBufferPointer { o in bytes.withUnsafeBufferPointer { convertPixels($0.baseAddress!, into: o.baseAddress!, count: bytes.count) } }
        #expect(out == convertPixelsReference(bytes))
    }
}

