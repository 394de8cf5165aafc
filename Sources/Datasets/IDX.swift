import FileFormats
/// The IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/, "FILE FORMATS"):
///
/// ```
/// images: magic 0x00000803 (UInt8 data, 3 dims) | n | rows | cols  (big-endian UInt32 each) | n·rows·cols bytes
/// labels: magic 0x00000801 (UInt8 data, 1 dim)  | n                                           | n bytes
/// ```
///
/// Files may be plain or gzip-compressed (recognised by content). Every file is treated as hostile: the header
/// is validated (known magic, sane dimensions, overflow-checked products) before any buffer is sized from it,
/// a short body, trailing bytes or a corrupt gzip stream are errors, and every error is one line naming the file.
public enum IDX {
    /// Largest image side accepted (a sanity bound: real data sets are 28×28).
    public static let maxSide = 4096
    /// Largest number of examples accepted in one file.
    public static let maxCount = 100_000_000
    /// Largest body accepted (4 GiB): n·rows·cols beyond this is refused before reading.
    public static let maxBodyBytes = 1 << 32

    static let imagesMagic: UInt32 = 0x0000_0803
    static let labelsMagic: UInt32 = 0x0000_0801

    /// Reads an images file (magic 0x803) into an `n × rows × cols` byte tensor.
    public static func readImages(path: String) throws -> IDXImages {
        var source = try openPossiblyCompressed(path: path)
        let header = try readHeader(&source, words: 4, what: "images")
        let count = Int(header[1]), rows = Int(header[2]), cols = Int(header[3])
        guard count <= maxCount else {
            throw FileFormatError(path, "header says \(count) images, more than the \(maxCount) this reader accepts")
        }
        guard rows >= 1, cols >= 1, rows <= maxSide, cols <= maxSide else {
            throw FileFormatError(path, "header says images are \(rows)×\(cols); each side must be 1…\(maxSide)")
        }
        let (perImage, o1) = rows.multipliedReportingOverflow(by: cols)
        let (total, o2) = count.multipliedReportingOverflow(by: perImage)
        guard !o1, !o2, total <= maxBodyBytes else {
            throw FileFormatError(path, "header says \(count)×\(rows)×\(cols) images, more than the \(maxBodyBytes) bytes this reader accepts")
        }
        let shape = "\(count)×\(rows)×\(cols) images (\(total) bytes)"
        let pixels = try readBody(&source, bytes: total, shape: shape)
        return IDXImages(count: count, rows: rows, cols: cols, pixels: pixels)
    }

    /// Reads a labels file (magic 0x801). Every label must be below `classCount` (10 for MNIST and Fashion-MNIST).
    public static func readLabels(path: String, classCount: Int = 10) throws -> [UInt8] {
        var source = try openPossiblyCompressed(path: path)
        let header = try readHeader(&source, words: 2, what: "labels")
        let count = Int(header[1])
        guard count <= maxCount else {
            throw FileFormatError(path, "header says \(count) labels, more than the \(maxCount) this reader accepts")
        }
        let labels = try readBody(&source, bytes: count, shape: "\(count) labels (\(count) bytes)")
        if let bad = labels.firstIndex(where: { Int($0) >= classCount }) {
            throw FileFormatError(path, "label \(labels[bad]) at index \(bad) is out of range 0…\(classCount - 1)")
        }
        return labels
    }

    /// Encodes images as an (uncompressed) IDX file body. For tests, fixtures and tools.
    public static func encodeImages(_ images: IDXImages) -> [UInt8] {
        bigEndianWords([imagesMagic, UInt32(images.count), UInt32(images.rows), UInt32(images.cols)]) + images.pixels
    }

    /// Encodes labels as an (uncompressed) IDX file body. For tests, fixtures and tools.
    public static func encodeLabels(_ labels: [UInt8]) -> [UInt8] {
        bigEndianWords([labelsMagic, UInt32(labels.count)]) + labels
    }

    // MARK: - Pieces

    /// Reads `words` big-endian UInt32s; checks the magic (word 0) as soon as 4 bytes are there, so a wrong file
    /// says "not an IDX file" rather than "truncated".
    private static func readHeader(_ source: inout any ByteSource, words: Int, what: String) throws -> [UInt32] {
        let bytes = try source.readUpTo(4 * words)
        if bytes.count >= 4 {
            // Say "wrong magic" before "truncated" when the file is clearly something else.
            let magic = bytes[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            let expected = what == "images" ? imagesMagic : labelsMagic
            if magic != expected {
                throw FileFormatError(source.path, badMagicMessage(magic, expected: expected, what: what))
            }
        }
        guard bytes.count == 4 * words else {
            throw FileFormatError(source.path, "truncated: an IDX \(what) header is \(4 * words) bytes but the file holds \(bytes.count)")
        }
        return (0..<words).map { word in
            bytes[4 * word..<4 * word + 4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        }
    }

    private static func readBody(_ source: inout any ByteSource, bytes: Int, shape: String) throws -> [UInt8] {
        let holder = source.knownRemaining == nil ? "the decompressed data holds" : "the file holds"
        if let remaining = source.knownRemaining, remaining != bytes {
            let problem = remaining < bytes ? "truncated" : "trailing data"
            throw FileFormatError(source.path, "\(problem): header says \(shape) but \(holder) \(remaining) bytes")
        }
        let body = try source.readUpTo(bytes)
        guard body.count == bytes else {
            throw FileFormatError(source.path, "truncated: header says \(shape) but \(holder) \(body.count) bytes")
        }
        guard try source.isAtEnd() else {
            throw FileFormatError(source.path, "trailing data: \(holder) more than the \(shape) the header describes")
        }
        return body
    }

    private static func badMagicMessage(_ magic: UInt32, expected: UInt32, what: String) -> String {
        let hex = { (v: UInt32) -> String in
            let digits = String(v, radix: 16)
            return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
        }
        if magic == imagesMagic || magic == labelsMagic {
            let actual = magic == imagesMagic ? "images" : "labels"
            return "expected an IDX \(what) file (magic \(hex(expected))) but this is an IDX \(actual) file"
        }
        return "not an IDX \(what) file (magic \(hex(magic)), expected \(hex(expected)))"
    }

    private static func bigEndianWords(_ words: [UInt32]) -> [UInt8] {
        words.flatMap { word in (0..<4).map { UInt8(truncatingIfNeeded: word >> (24 - 8 * $0)) } }
    }
}

/// `count` grayscale images of `rows × cols` bytes each, stored contiguously (row-major, image after image).
public struct IDXImages: Sendable, Equatable {
    public let count: Int
    public let rows: Int
    public let cols: Int
    /// `count · rows · cols` pixel bytes, 0 = background.
    public let pixels: [UInt8]

    public var pixelsPerImage: Int { rows * cols }

    public init(count: Int, rows: Int, cols: Int, pixels: [UInt8]) {
        precondition(count >= 0 && rows >= 0 && cols >= 0 && pixels.count == count * rows * cols, "pixel count must be count·rows·cols")
        self.count = count
        self.rows = rows
        self.cols = cols
        self.pixels = pixels
    }
}
