import Foundation
import Testing
@testable import Model
@testable import FileFormats
@testable import Datasets

@Suite("MD5")
struct MD5Tests {
    /// The test suite of RFC 1321, appendix A.5.
    @Test(arguments: [
        ("", "d41d8cd98f00b204e9800998ecf8427e"),
        ("a", "0cc175b9c0f1b6a831c399e269772661"),
        ("abc", "900150983cd24fb0d6963f7d28e17f72"),
        ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
        ("abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"),
        ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "d174ab98d277d9f5a5611c2c9f419d9f"),
        ("12345678901234567890123456789012345678901234567890123456789012345678901234567890", "57edf4a22be3c955ac49da2e2107b67a"),
    ])
    func rfc1321Vectors(input: String, digest: String) {
        #expect(MD5.hex(Array(input.utf8)) == digest)
    }

    @Test func incrementalUpdatesMatchOneShot() {
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        var md5 = MD5()
        var offset = 0
        for piece in [1, 63, 64, 65, 0, 127, 300, 380] {
            md5.update(Array(bytes[offset..<offset + piece]))
            offset += piece
        }
        #expect(offset == bytes.count)
        #expect(md5.finalizeHex() == MD5.hex(bytes))
        // Lengths around the padding boundary (55, 56, 64 bytes) against md5sum-known values.
        #expect(MD5.hex([UInt8](repeating: 0x61, count: 55)) == "ef1772b6dff9a122358552954ad0df65")
        #expect(MD5.hex([UInt8](repeating: 0x61, count: 56)) == "3b0c8ac703f828b04c6c197006d17218")
        #expect(MD5.hex([UInt8](repeating: 0x61, count: 64)) == "014842d480b571495a4a0363793f7367")
    }

    /// Against the system's `md5sum` on Debian's Fashion-MNIST files (recompressed by Debian, so their MD5s
    /// are not the upstream ones: we compare with md5sum, and check the decompressed content's MD5 separately).
    @Test(DataTestSupport.needsFashionMNIST, .enabled(if: FileManager.default.fileExists(atPath: "/usr/bin/md5sum"), "needs md5sum"))
    func matchesMd5sumOnFashionMNISTFiles() throws {
        for name in ["train-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz"] {
            let path = DataTestSupport.fashionMNISTDirectory + "/" + name
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/md5sum")
            process.arguments = [path]
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            let expected = String(output.prefix(32))
            #expect(expected.count == 32)
            #expect(try MD5.hex(ofFile: path) == expected, "\(name)")
        }
    }

    /// The decompressed Debian files are byte-identical to upstream Fashion-MNIST: their MD5s are the catalog's content MD5s.
    @Test(DataTestSupport.needsFashionMNIST) func fashionMNISTContentMatchesCatalog() throws {
        for file in [DatasetDescription.fashionMNIST.trainLabels, DatasetDescription.fashionMNIST.testLabels] {
            let path = DataTestSupport.fashionMNISTDirectory + "/" + file.name + ".gz"
            let labels = try IDX.readLabels(path: path)
            #expect(MD5.hex(IDX.encodeLabels(labels)) == file.contentMD5, "\(file.name)")
        }
        let testImages = DatasetDescription.fashionMNIST.testImages
        let images = try IDX.readImages(path: DataTestSupport.fashionMNISTDirectory + "/" + testImages.name + ".gz")
        #expect(MD5.hex(IDX.encodeImages(images)) == testImages.contentMD5)
    }
}
