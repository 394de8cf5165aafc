import CZlib
import Foundation
import Testing
@testable import Model
@testable import FileFormats

/// An independent PNG decoder for the writer's subset: walks the chunks, checks every CRC, inflates IDAT and
/// undoes filter 0.
private struct DecodedPNG {
    var width = 0, height = 0, bitDepth = 0, colorType = 0
    var chunkTypes: [String] = []
    var pixels: [UInt8] = []

    init(_ file: [UInt8]) throws {
        struct Bad: Error { let why: String }
        guard file.starts(with: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]) else { throw Bad(why: "signature") }
        func u32(_ at: Int) -> Int { file[at..<at + 4].reduce(0) { $0 << 8 | Int($1) } }
        var offset = 8, idat: [UInt8] = []
        while offset < file.count {
            let length = u32(offset)
            let type = String(decoding: file[offset + 4..<offset + 8], as: UTF8.self)
            let data = Array(file[offset + 8..<offset + 8 + length])
            let stored = u32(offset + 8 + length)
            let computed = Array(file[offset + 4..<offset + 8 + length]).withUnsafeBufferPointer { Int(crc32(0, $0.baseAddress, uInt($0.count))) }
            guard stored == computed else { throw Bad(why: "CRC of \(type)") }
            chunkTypes.append(type)
            if type == "IHDR" {
                width = data[0..<4].reduce(0) { $0 << 8 | Int($1) }
                height = data[4..<8].reduce(0) { $0 << 8 | Int($1) }
                bitDepth = Int(data[8])
                colorType = Int(data[9])
            } else if type == "IDAT" {
                idat += data
            }
            offset += 12 + length
        }
        let channels = colorType == 2 ? 3 : 1
        let rowBytes = width * channels
        var raw = [UInt8](repeating: 0, count: (rowBytes + 1) * height)
        var rawLength = uLong(raw.count)
        let status = raw.withUnsafeMutableBufferPointer { out in idat.withUnsafeBufferPointer { uncompress(out.baseAddress, &rawLength, $0.baseAddress, uLong($0.count)) } }
        guard status == Z_OK, rawLength == uLong(raw.count) else { throw Bad(why: "inflate") }
        for row in 0..<height {
            guard raw[row * (rowBytes + 1)] == 0 else { throw Bad(why: "filter") }
            pixels += raw[row * (rowBytes + 1) + 1..<(row + 1) * (rowBytes + 1)]
        }
    }
}

@Suite("PNG writer and image grid")
struct PNGWriterTests {
    @Test func grayscaleDecodesToTheSamePixels() throws {
        let pixels: [UInt8] = [0, 50, 100, 150, 200, 255]
        let decoded = try DecodedPNG(PNG.encode(width: 3, height: 2, colorType: .gray, pixels: pixels))
        #expect(decoded.chunkTypes == ["IHDR", "IDAT", "IEND"])
        #expect(decoded.width == 3 && decoded.height == 2 && decoded.bitDepth == 8 && decoded.colorType == 0)
        #expect(decoded.pixels == pixels)
    }

    @Test func rgbDecodesToTheSamePixels() throws {
        let pixels = (0..<(5 * 4 * 3)).map { UInt8($0 * 4) }
        let decoded = try DecodedPNG(PNG.encode(width: 5, height: 4, colorType: .rgb, pixels: pixels))
        #expect(decoded.width == 5 && decoded.height == 4 && decoded.colorType == 2)
        #expect(decoded.pixels == pixels)
    }

    /// A second, unrelated decoder: Python's zlib and struct, where python3 exists.
    @Test(DataTestSupport.needsPython3) func pythonReadsTheFile() throws {
        let python = try #require(DataTestSupport.python3)
        let directory = DataTestSupport.makeTemporaryDirectory("png")
        defer { DataTestSupport.removeDirectory(directory) }
        let path = directory + "/grid.png"
        let pixels = (0..<(7 * 3)).map { UInt8($0 * 12) }
        try PNG.write(to: path, width: 7, height: 3, colorType: .gray, pixels: pixels)
        let script = """
        import struct, sys, zlib
        d = open(sys.argv[1], 'rb').read()
        assert d[:8] == b'\\x89PNG\\r\\n\\x1a\\n'
        o, idat = 8, b''
        while o < len(d):
            n, = struct.unpack('>I', d[o:o+4]); t = d[o+4:o+8]; body = d[o+8:o+8+n]
            assert struct.unpack('>I', d[o+8+n:o+12+n])[0] == zlib.crc32(t + body) & 0xffffffff, t
            if t == b'IHDR': w, h, depth, ct = struct.unpack('>IIBB', body[:10])
            if t == b'IDAT': idat += body
            o += 12 + n
        raw = zlib.decompress(idat)
        print(w, h, depth, ct, ','.join(str(b) for r in range(h) for b in raw[r*(w+1)+1:(r+1)*(w+1)]))
        """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", script, path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(output.trimmingCharacters(in: .whitespacesAndNewlines) == "7 3 8 0 " + pixels.map(String.init).joined(separator: ","))
    }

    @Test func gridPlacesImagesBetweenBorders() {
        // Two 2×3 images: the first all 0.0, the second all 1.0; grid 1 row × 3 cols (last cell empty), border 1.
        let images = [Float](repeating: 0, count: 6) + [Float](repeating: 1, count: 6)
        let grid = ImageGrid.tile(images: images, count: 2, height: 2, width: 3, rows: 1, cols: 3, border: 1, borderValue: 128)
        #expect(grid.width == 3 * 3 + 4 && grid.height == 2 + 2)
        #expect(grid.pixels[0..<grid.width].allSatisfy { $0 == 128 })       // top border
        #expect(grid.pixels[grid.width + 1] == 0)                            // image 0, (0, 0)
        #expect(grid.pixels[grid.width + 4] == 128)                          // border between cells
        #expect(grid.pixels[grid.width + 5] == 255)                          // image 1, (0, 0)
        #expect(grid.pixels[2 * grid.width + 7] == 255)                      // image 1, (1, 2)
        #expect(grid.pixels[grid.width + 9] == 128)                          // empty third cell stays background
    }

    @Test func gridUpscalesAndClamps() {
        let image: [Float] = [0.5, -3, .nan, 7]  // 2×2
        let grid = ImageGrid.tile(images: image, count: 1, height: 2, width: 2, rows: 1, cols: 1, border: 2, scale: 3)
        #expect(grid.width == 2 * 3 + 4 && grid.height == 2 * 3 + 4)
        func at(_ y: Int, _ x: Int) -> UInt8 { grid.pixels[(2 + y) * grid.width + 2 + x] }
        #expect(at(0, 0) == 128 && at(2, 2) == 128)  // 0.5 → 128, over a 3×3 block
        #expect(at(0, 3) == 0 && at(2, 5) == 0)      // clamped below
        #expect(at(3, 0) == 0)                        // NaN → 0
        #expect(at(5, 5) == 255)                      // clamped above
        #expect(ImageGrid.squareShape(for: 64) == (8, 8) && ImageGrid.squareShape(for: 10) == (3, 4))
    }

    @Test func writeIsAtomicAndReadableBack() throws {
        let directory = DataTestSupport.makeTemporaryDirectory("png")
        defer { DataTestSupport.removeDirectory(directory) }
        let grid = ImageGrid.tile(images: [Float](repeating: 0.25, count: 16 * 9), count: 16, height: 3, width: 3, rows: 4, cols: 4)
        let path = directory + "/samples.png"
        try PNG.write(to: path, image: grid)
        let decoded = try DecodedPNG(DataTestSupport.read(path))
        #expect(decoded.width == grid.width && decoded.pixels == grid.pixels)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["samples.png"])  // no temporary left
        let error = DataTestSupport.formatError { try PNG.write(to: directory + "/missing/dir.png", image: grid) }
        #expect(error?.problem.hasPrefix("cannot write: No such file or directory") == true)
    }
}
