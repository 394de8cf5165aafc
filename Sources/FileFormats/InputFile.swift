#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A source of bytes that may be a plain file or a decompressing stream over one.
///
/// Readers of hostile files (IDX, checkpoints) pull from it in pieces so that no buffer is ever sized by an
/// unchecked header field: when the source knows how many bytes remain (a plain file) a short body is rejected
/// before allocating; when it does not (a gzip stream) the buffer grows only as real data arrives.
public protocol ByteSource {
    /// The file the bytes come from, for error messages.
    var path: String { get }
    /// Bytes left before the end, when known without reading them (plain files); `nil` for streams.
    var knownRemaining: Int? { get }
    /// Reads up to `buffer.count` bytes; returns 0 only at the end of the data. Throws on I/O or format errors.
    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

public extension ByteSource {
    /// Reads exactly `count` bytes, or returns the shorter prefix that was there when the data ended.
    ///
    /// Allocates at most `count` bytes, and for a stream at most what actually arrived plus one growth step.
    mutating func readUpTo(_ count: Int) throws -> [UInt8] {
        precondition(count >= 0)
        if let remaining = knownRemaining, remaining < count {
            return try readUpTo(remaining)
        }
        let step = 16 << 20
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Swift.min(count, step))
        var chunk = [UInt8](repeating: 0, count: Swift.min(count, 1 << 20))
        while bytes.count < count {
            let want = Swift.min(chunk.count, count - bytes.count)
            let got = try chunk.withUnsafeMutableBytes { try read(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<want])) }
            if got == 0 { break }
            bytes.append(contentsOf: chunk[0..<got])
        }
        return bytes
    }

    /// True when no byte is left (reads at most one byte to find out).
    mutating func isAtEnd() throws -> Bool {
        if let remaining = knownRemaining { return remaining == 0 }
        var one: UInt8 = 0
        return try withUnsafeMutableBytes(of: &one) { try read(into: $0) } == 0
    }
}

/// A regular file opened for reading, with its size.
///
/// Opening refuses what would make a reader hang or misbehave: directories, FIFOs and devices (opened
/// non-blocking so a FIFO cannot block `open` itself), and empty files.
public final class InputFile: ByteSource {
    public let path: String
    public let size: Int
    public private(set) var offset = 0
    private var descriptor: Int32

    public init(path: String) throws {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        if fd < 0 { throw FileFormatError(path, "cannot open: \(systemErrorMessage(errno))") }
        var info = stat()
        if fstat(fd, &info) != 0 {
            let code = errno
            close(fd)
            throw FileFormatError(path, "cannot stat: \(systemErrorMessage(code))")
        }
        let kind = info.st_mode & S_IFMT
        if kind == S_IFDIR {
            close(fd)
            throw FileFormatError(path, "is a directory, expected a file")
        }
        if kind != S_IFREG {
            close(fd)
            throw FileFormatError(path, "is not a regular file")
        }
        if info.st_size == 0 {
            close(fd)
            throw FileFormatError(path, "empty file")
        }
        self.path = path
        descriptor = fd
        size = Int(info.st_size)
    }

    deinit { close(descriptor) }

    public var knownRemaining: Int? { size - offset }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard buffer.count > 0, offset < size else { return 0 }
        while true {
            let got = Glibc_read(descriptor, buffer.baseAddress, Swift.min(buffer.count, size - offset))
            if got < 0 {
                if errno == EINTR { continue }
                throw FileFormatError(path, "read failed: \(systemErrorMessage(errno))")
            }
            if got == 0 {
                // The file shrank under us; report it as the truncation it is.
                throw FileFormatError(path, "file shrank while reading (expected \(size) bytes, got \(offset))")
            }
            offset += got
            return got
        }
    }

    /// The whole file, for small formats that are parsed in memory (checkpoints). `limit` bounds the allocation.
    public static func readAll(path: String, limit: Int) throws -> [UInt8] {
        var file = try InputFile(path: path)
        if file.size > limit {
            throw FileFormatError(path, "file is \(file.size) bytes, more than the \(limit) this reader accepts")
        }
        let bytes = try file.readUpTo(file.size)
        return bytes
    }
}

/// `read(2)` under a name that does not clash with `ByteSource.read`.
@inline(__always)
private func Glibc_read(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    read(fd, buffer, count)
}
