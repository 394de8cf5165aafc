import CZlib

/// A minimal PNG encoder (ISO/IEC 15948): 8-bit grayscale or 8-bit RGB, no interlace, filter 0 on every row,
/// the image data deflated by zlib, every chunk closed by zlib's CRC-32. Enough for sample grids and
/// reconstructions; any viewer reads it.
public enum PNG {
    public enum ColorType: UInt8, Sendable {
        case gray = 0
        case rgb = 2

        var channels: Int { self == .gray ? 1 : 3 }
    }

    static let signature: [UInt8] = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]

    /// Encodes `pixels` (row-major, `width · height · channels` bytes) as a PNG file.
    public static func encode(width: Int, height: Int, colorType: ColorType = .gray, pixels: [UInt8]) -> [UInt8] {
        precondition(width >= 1 && height >= 1 && width <= Int(Int32.max) && height <= Int(Int32.max), "PNG sides must be 1…2³¹−1")
        let rowBytes = width * colorType.channels
        precondition(pixels.count == rowBytes * height, "PNG pixel count must be width·height·channels")

        // Each scanline is preceded by its filter-type byte (0 = None).
        var scanlines = [UInt8](repeating: 0, count: (rowBytes + 1) * height)
        for row in 0..<height {
            scanlines[row * (rowBytes + 1) + 1..<(row + 1) * (rowBytes + 1)] = pixels[row * rowBytes..<(row + 1) * rowBytes]
        }

        var header: [UInt8] = []
        header += bigEndian(UInt32(width))
        header += bigEndian(UInt32(height))
        header += [8, colorType.rawValue, 0, 0, 0]  // bit depth, color type, compression, filter, interlace

        var file = signature
        appendChunk("IHDR", header, to: &file)
        appendChunk("IDAT", zlibCompress(scanlines), to: &file)
        appendChunk("IEND", [], to: &file)
        return file
    }

    /// Encodes and writes atomically (see `AtomicFile`).
    public static func write(to path: String, width: Int, height: Int, colorType: ColorType = .gray, pixels: [UInt8]) throws {
        try AtomicFile.write(encode(width: width, height: height, colorType: colorType, pixels: pixels), to: path)
    }

    /// Writes a grayscale image made by `ImageGrid`.
    public static func write(to path: String, image: GrayImage) throws {
        try write(to: path, width: image.width, height: image.height, colorType: .gray, pixels: image.pixels)
    }

    /// length (big-endian) | type | data | CRC-32 of type and data.
    private static func appendChunk(_ type: String, _ data: [UInt8], to file: inout [UInt8]) {
        let typeBytes = Array(type.utf8)
        file += bigEndian(UInt32(data.count))
        let start = file.count
        file += typeBytes
        file += data
        let crc = file[start...].withContiguousStorageIfAvailable { crc32(0, $0.baseAddress, uInt($0.count)) }
            ?? Array(file[start...]).withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }
        file += bigEndian(UInt32(crc))
    }

    /// zlib-wrapped deflate (what IDAT holds), best compression.
    static func zlibCompress(_ bytes: [UInt8]) -> [UInt8] {
        var capacity = compressBound(uLong(bytes.count))
        var output = [UInt8](repeating: 0, count: Int(capacity))
        let status = output.withUnsafeMutableBufferPointer { out in
            bytes.withUnsafeBufferPointer { input in
                compress2(out.baseAddress, &capacity, input.baseAddress, uLong(input.count), Z_BEST_COMPRESSION)
            }
        }
        precondition(status == Z_OK, "compress2 into a compressBound-sized buffer cannot fail")
        return Array(output[0..<Int(capacity)])
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] {
        (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * UInt32($0))) }
    }
}
