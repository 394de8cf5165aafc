import CZlib
import Foundation

/// The `vae-dist` checkpoint container, version 1. All integers little-endian:
///
/// ```
/// offset 0   8 bytes  magic "VAEDCKPT"
///        8   UInt32   format version (1)
///        12  UInt64   total file length in bytes (catches truncation before anything else)
///        20  UInt32   header length H
///        24  H bytes  header: the caller's metadata as JSON (model kind, architecture, seed, step, epoch, config hash, ...)
///            UInt32   tensor count T
///            T times: UInt32 name length N | N bytes UTF-8 name | UInt64 element count C | C × Float32
///   end-4    UInt32   CRC-32 (zlib's, the PNG/gzip polynomial) of every byte before it
/// ```
///
/// Reading validates, in this order: magic, version, file length, checksum, then every size against the bytes
/// that remain before allocating; each failure is a one-line `FileFormatError`. Writing is atomic (`AtomicFile`).
public enum CheckpointFile {
    public static let magic: [UInt8] = Array("VAEDCKPT".utf8)
    public static let version: UInt32 = 1
    /// Bound on the file size read into memory (64 GiB).
    public static let maxFileBytes = 1 << 36
    static let fixedPrefix = 24  // magic + version + length + header length
    static let maxNameBytes = 4096
    static let maxHeaderBytes = 1 << 24

    /// Serializes `metadata` (as JSON) and `tensors` into the bytes of a checkpoint file.
    public static func encode<Metadata: Encodable>(metadata: Metadata, tensors: [CheckpointTensor]) throws -> [UInt8] {
        var bytes: [UInt8] = []
        try withViews(tensors[...], []) { views in
            try stream(metadata: metadata, tensors: views) { bytes.append(contentsOf: $0) }
        }
        return bytes
    }

    /// The file's bytes in order, handed to `sink` in pieces: the fixed prefix and header, then each tensor's
    /// name, length and values straight from `tensors`, then the CRC-32 of all of it.
    static func stream<Metadata: Encodable>(
        metadata: Metadata, tensors: [CheckpointTensorView], to sink: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        let (header, size) = try layout(metadata: metadata, tensors: tensors)
        var crc = crc32(0, nil, 0)
        func emit(_ piece: UnsafeRawBufferPointer) throws {
            var offset = 0
            while offset < piece.count {  // zlib's crc32 takes a 32-bit length
                let length = min(piece.count - offset, 1 << 30)
                crc = crc32(crc, piece.baseAddress!.assumingMemoryBound(to: UInt8.self) + offset, uInt(length))
                offset += length
            }
            try sink(piece)
        }
        var prefix: [UInt8] = []
        prefix += magic
        appendLittleEndian(version, to: &prefix)
        appendLittleEndian(UInt64(size), to: &prefix)
        appendLittleEndian(UInt32(header.count), to: &prefix)
        prefix += header
        appendLittleEndian(UInt32(tensors.count), to: &prefix)
        try prefix.withUnsafeBytes(emit)
        for tensor in tensors {
            var head: [UInt8] = []
            appendLittleEndian(UInt32(tensor.name.utf8.count), to: &head)
            head += Array(tensor.name.utf8)
            appendLittleEndian(UInt64(tensor.values.count), to: &head)
            try head.withUnsafeBytes(emit)
            #if _endian(little)
            try emit(UnsafeRawBufferPointer(tensor.values))
            #else
            for value in tensor.values { try withUnsafeBytes(of: value.bitPattern.littleEndian, emit) }
            #endif
        }
        try withUnsafeBytes(of: UInt32(crc).littleEndian) { try sink($0) }
    }

    /// The JSON header and the total file size for `metadata` and `tensors`.
    static func layout<Metadata: Encodable>(
        metadata: Metadata, tensors: [CheckpointTensorView]
    ) throws -> (header: [UInt8], size: Int) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let header = Array(try encoder.encode(metadata))
        precondition(header.count <= maxHeaderBytes, "checkpoint metadata over 16 MiB")
        var size = fixedPrefix + header.count + 4 + 4
        for tensor in tensors {
            precondition(tensor.name.utf8.count <= maxNameBytes, "tensor name over \(maxNameBytes) bytes")
            size += 4 + tensor.name.utf8.count + 8 + 4 * tensor.values.count
        }
        return (header, size)
    }

    /// Views of `tensors`' arrays, valid inside `body`.
    static func withViews<R>(
        _ tensors: ArraySlice<CheckpointTensor>, _ views: [CheckpointTensorView], _ body: ([CheckpointTensorView]) throws -> R
    ) throws -> R {
        guard let first = tensors.first else { return try body(views) }
        return try first.values.withUnsafeBufferPointer {
            try withViews(tensors.dropFirst(), views + [CheckpointTensorView(name: first.name, values: $0)], body)
        }
    }

    /// Parses checkpoint bytes; `path` only names the file in errors.
    public static func decode<Metadata: Decodable>(_ type: Metadata.Type, from bytes: [UInt8], path: String) throws -> CheckpointContents<Metadata> {
        var reader = try verifiedReader(bytes, path: path)
        let headerLength = Int(try reader.uint32("header length"))
        guard headerLength <= maxHeaderBytes else { throw FileFormatError(path, "header length \(headerLength) is implausible: file is damaged") }
        let header = try reader.bytes(headerLength, "header")
        let metadata: Metadata
        do {
            metadata = try JSONDecoder().decode(Metadata.self, from: Data(header))
        } catch {
            throw FileFormatError(path, "header does not describe a \(Metadata.self): \(describe(error))")
        }
        let count = Int(try reader.uint32("tensor count"))
        var tensors: [CheckpointTensor] = []
        tensors.reserveCapacity(min(count, reader.remaining / 12))
        for index in 0..<count {
            let nameLength = Int(try reader.uint32("name length of tensor \(index)"))
            guard nameLength <= maxNameBytes else { throw FileFormatError(path, "tensor \(index) has a \(nameLength)-byte name: file is damaged") }
            guard let name = String(validating: try reader.bytes(nameLength, "name of tensor \(index)"), as: UTF8.self) else {
                throw FileFormatError(path, "tensor \(index) has a name that is not UTF-8: file is damaged")
            }
            guard !tensors.contains(where: { $0.name == name }) else { throw FileFormatError(path, "tensor '\(name)' appears twice") }
            let elements = try reader.uint64("size of tensor '\(name)'")
            guard elements <= UInt64(reader.remaining / 4) else {
                throw FileFormatError(path, "truncated: tensor '\(name)' claims \(elements) values but only \(reader.remaining) bytes remain")
            }
            tensors.append(CheckpointTensor(name: name, values: reader.floats(Int(elements))))
        }
        guard reader.remaining == 0 else { throw FileFormatError(path, "\(reader.remaining) unexplained bytes after the last tensor: file is damaged") }
        return CheckpointContents(path: path, metadata: metadata, tensors: tensors)
    }

    /// Writes a checkpoint atomically: the previous file at `path` stays intact if anything fails.
    public static func write<Metadata: Encodable>(
        metadata: Metadata, tensors: [CheckpointTensor], to path: String,
        injectedFailure: AtomicFile.InjectedFailure? = nil
    ) throws {
        try withViews(tensors[...], []) { views in
            try write(metadata: metadata, tensors: views, to: path, injectedFailure: injectedFailure)
        }
    }

    /// Writes a checkpoint atomically straight from where its tensors live (no copy of them in memory).
    public static func write<Metadata: Encodable>(
        metadata: Metadata, tensors: [CheckpointTensorView], to path: String,
        injectedFailure: AtomicFile.InjectedFailure? = nil
    ) throws {
        let size = try layout(metadata: metadata, tensors: tensors).size
        try AtomicFile.write(to: path, expectedBytes: size, injectedFailure: injectedFailure) { sink in
            try stream(metadata: metadata, tensors: tensors, to: sink)
        }
    }

    /// Reads and validates a checkpoint file.
    public static func read<Metadata: Decodable>(_ type: Metadata.Type, from path: String) throws -> CheckpointContents<Metadata> {
        try decode(type, from: InputFile.readAll(path: path, limit: maxFileBytes), path: path)
    }

    /// Checks magic, version, length and checksum without decoding the contents (to find the newest good file).
    public static func verify(path: String) throws {
        _ = try verifiedReader(InputFile.readAll(path: path, limit: maxFileBytes), path: path)
    }

    /// A reader positioned after the file length, once magic, version, length and checksum are known good.
    static func verifiedReader(_ bytes: [UInt8], path: String) throws -> LittleEndianReader {
        guard bytes.count >= magic.count, bytes[0..<magic.count].elementsEqual(magic) else {
            if bytes.count < magic.count && magic.starts(with: bytes) {
                throw FileFormatError(path, "truncated: \(bytes.count) bytes, shorter than the checkpoint header")
            }
            throw FileFormatError(path, "not a vae-dist checkpoint (bad magic)")
        }
        var reader = LittleEndianReader(bytes: bytes, path: path, offset: magic.count, end: bytes.count)
        let fileVersion = try reader.uint32("format version")
        if fileVersion > version {
            throw FileFormatError(path, "format version \(fileVersion) is newer than this build understands (\(version))")
        }
        guard fileVersion >= 1 else { throw FileFormatError(path, "format version 0 does not exist: file is damaged") }
        let declared = try reader.uint64("file length")
        guard declared == UInt64(bytes.count) else {
            let shorter = UInt64(bytes.count) < declared
            throw FileFormatError(path, "\(shorter ? "truncated" : "trailing data"): the header says \(declared) bytes but the file holds \(bytes.count)")
        }
        guard bytes.count >= fixedPrefix + 8 else { throw FileFormatError(path, "truncated: \(bytes.count) bytes, shorter than an empty checkpoint") }
        let stored = LittleEndianReader(bytes: bytes, path: path, offset: bytes.count - 4, end: bytes.count).peekUInt32()
        guard checksum(bytes[0..<bytes.count - 4]) == stored else {
            throw FileFormatError(path, "checksum mismatch: file is damaged")
        }
        reader.end = bytes.count - 4
        return reader
    }

    static func checksum(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        bytes.withUnsafeBufferPointer { buffer in
            // zlib's crc32 takes a 32-bit length: feed it in pieces.
            var crc = crc32(0, nil, 0)
            var offset = 0
            while offset < buffer.count {
                let piece = min(buffer.count - offset, 1 << 30)
                crc = crc32(crc, buffer.baseAddress! + offset, uInt(piece))
                offset += piece
            }
            return UInt32(crc)
        }
    }

    static func appendLittleEndian<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): return "missing field '\(key.stringValue)'"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            return "wrong type at '\(context.codingPath.map(\.stringValue).joined(separator: "."))'"
        case DecodingError.dataCorrupted(let context): return "invalid JSON (\(context.debugDescription))"
        default: return "\(error)"
        }
    }
}

/// Bounds-checked little-endian reads over a byte array; running past `end` is a "truncated" error.
struct LittleEndianReader {
    let bytes: [UInt8]
    let path: String
    var offset: Int
    var end: Int

    var remaining: Int { end - offset }

    mutating func bytes(_ count: Int, _ what: String) throws -> ArraySlice<UInt8> {
        guard count <= remaining else {
            throw FileFormatError(path, "truncated: \(what) needs \(count) bytes but only \(remaining) remain")
        }
        defer { offset += count }
        return bytes[offset..<offset + count]
    }

    mutating func uint32(_ what: String) throws -> UInt32 {
        let slice = try bytes(4, what)
        return slice.reversed().reduce(0) { $0 << 8 | UInt32($1) }
    }

    mutating func uint64(_ what: String) throws -> UInt64 {
        let slice = try bytes(8, what)
        return slice.reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    func peekUInt32() -> UInt32 {
        bytes[offset..<offset + 4].reversed().reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// `count` Float32 values; the caller has checked `4 · count ≤ remaining`.
    mutating func floats(_ count: Int) -> [Float] {
        precondition(4 * count <= remaining)
        let start = offset
        offset += 4 * count
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            bytes.withUnsafeBytes { raw in
                #if _endian(little)
                UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[start..<start + 4 * count]))
                #else
                for i in 0..<count {
                    buffer[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: start + 4 * i, as: UInt32.self)))
                }
                #endif
            }
            initialized = count
        }
    }
}
