import CZlib

/// gzip (RFC 1952) reading and writing over zlib.
///
/// Reading streams: compressed bytes are pulled from the file 256 KiB at a time and inflated into the
/// caller's buffer, so memory holds only what the caller asked for. Files are recognised as gzip by their
/// first two bytes (1f 8b), never by the name. Concatenated members (what `cat a.gz b.gz` makes) are
/// read as one stream, as `gunzip` does; anything else after the last member is an error.
enum Gzip {
    /// True when `bytes` begins with the gzip magic 1f 8b.
    static func hasMagic(_ bytes: some Collection<UInt8>) -> Bool {
        var iterator = bytes.makeIterator()
        return iterator.next() == 0x1f && iterator.next() == 0x8b
    }

    /// Compresses `bytes` into one gzip member (level 6, what `gzip` uses). Used to write test fixtures and caches.
    static func compress(_ bytes: [UInt8], level: Int32 = 6) -> [UInt8] {
        var stream = z_stream()
        // windowBits 15 + 16: gzip wrapper instead of zlib's.
        guard shim_deflateInit2(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK else {
            fatalError("deflateInit2 failed: zlib is unusable")
        }
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(bytes.count))) + 32)
        let written: Int = bytes.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { out in
                stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
                stream.avail_in = uInt(input.count)
                stream.next_out = out.baseAddress
                stream.avail_out = uInt(out.count)
                let status = deflate(&stream, Z_FINISH)
                precondition(status == Z_STREAM_END, "deflate into a deflateBound-sized buffer must finish")
                return out.count - Int(stream.avail_out)
            }
        }
        return Array(output[0..<written])
    }
}

/// The decompressed bytes of a gzip file, as a `ByteSource`.
final class GzipSource: ByteSource {
    private let file: InputFile
    private var stream = z_stream()
    private var input: UnsafeMutablePointer<UInt8>
    private let inputCapacity = 256 << 10
    private var finished = false
    /// Decompressed bytes produced so far (for messages).
    private(set) var produced = 0

    var path: String { file.path }
    var knownRemaining: Int? { nil }

    init(file: InputFile) throws {
        self.file = file
        input = .allocate(capacity: inputCapacity)
        // windowBits 15 + 32: accept gzip or zlib headers, detected automatically.
        let status = shim_inflateInit2(&stream, 15 + 32)
        if status != Z_OK {
            input.deallocate()
            throw FileFormatError(file.path, "cannot start gzip decoder (zlib status \(status))")
        }
    }

    deinit {
        inflateEnd(&stream)
        input.deallocate()
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard buffer.count > 0, !finished else { return 0 }
        stream.next_out = buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)
        stream.avail_out = uInt(Swift.min(buffer.count, Int(UInt32.max)))
        let wanted = Int(stream.avail_out)
        while stream.avail_out > 0 {
            if stream.avail_in == 0 {
                let got = try file.read(into: UnsafeMutableRawBufferPointer(start: input, count: inputCapacity))
                if got == 0 {
                    throw FileFormatError(path, "corrupt gzip stream: the compressed data ends early (after \(produced + wanted - Int(stream.avail_out)) decompressed bytes)")
                }
                stream.next_in = input
                stream.avail_in = uInt(got)
            }
            let status = inflate(&stream, Z_NO_FLUSH)
            if status == Z_STREAM_END {
                if try !startNextMember() {
                    finished = true
                    break
                }
            } else if status != Z_OK {
                let detail = stream.msg.map { String(cString: $0) } ?? "zlib status \(status)"
                throw FileFormatError(path, "corrupt gzip stream: \(detail)")
            }
        }
        let got = wanted - Int(stream.avail_out)
        produced += got
        return got
    }

    /// After a member ends: another member follows (true), the file ends (false), or garbage follows (throws).
    private func startNextMember() throws -> Bool {
        // A following member must start with the magic: make sure two bytes are buffered (or the file ends).
        if stream.avail_in < 2 {
            var count = Int(stream.avail_in)
            if count == 1 { input[0] = stream.next_in[0] }
            count += try file.read(into: UnsafeMutableRawBufferPointer(start: input + count, count: inputCapacity - count))
            if count == 0 { return false }
            stream.next_in = input
            stream.avail_in = uInt(count)
        }
        let available = UnsafeBufferPointer(start: stream.next_in, count: Int(stream.avail_in))
        guard Gzip.hasMagic(available) else {
            throw FileFormatError(path, "trailing garbage after the gzip stream")
        }
        inflateReset(&stream)
        return true
    }
}

/// Opens `path` as a byte source: decompressing when the file starts with the gzip magic, plain otherwise.
public func openPossiblyCompressed(path: String) throws -> any ByteSource {
    let file = try InputFile(path: path)
    var magic: (UInt8, UInt8) = (0, 0)
    let peeked = try withUnsafeMutableBytes(of: &magic) { try file.read(into: $0) }
    // Re-open rather than seek: InputFile is forward-only and the cost is one syscall.
    let fresh = try InputFile(path: path)
    if peeked == 2 && magic.0 == 0x1f && magic.1 == 0x8b {
        return try GzipSource(file: fresh)
    }
    return fresh
}
