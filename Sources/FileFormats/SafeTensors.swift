import Foundation

/// The safetensors format (Hugging Face), for weights that PyTorch and other frameworks load:
///
/// ```
/// 8 bytes    UInt64 little-endian N, the header length
/// N bytes    JSON: {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
///                   "__metadata__": {"key": "value", ...}}   (padded with spaces to a multiple of 8)
/// the rest   the tensors' bytes, little-endian, row-major; offsets count from here
/// ```
///
/// vae-dist writes and reads float32 tensors only. Reading checks every size against the file before
/// allocating, and that the tensors exactly tile the data (no gap, no overlap), as the reference
/// implementation does; each failure is a one-line `FileFormatError`.
public enum SafeTensors {
    public struct Tensor: Sendable, Equatable {
        public var name: String
        public var shape: [Int]
        public var values: [Float]

        public init(name: String, shape: [Int], values: [Float]) {
            precondition(shape.reduce(1, *) == values.count, "SafeTensors: \(name) has \(values.count) values for shape \(shape)")
            self.name = name
            self.shape = shape
            self.values = values
        }
    }

    /// Tensors in file order, and the string metadata.
    public struct Contents: Sendable, Equatable {
        public var tensors: [Tensor]
        public var metadata: [String: String]

        public init(tensors: [Tensor], metadata: [String: String]) {
            self.tensors = tensors
            self.metadata = metadata
        }

        public func tensor(_ name: String) -> Tensor? { tensors.first { $0.name == name } }
    }

    /// Largest header accepted (the reference implementation's limit).
    static let maxHeaderBytes = 100_000_000
    /// Largest file read into memory.
    public static let maxFileBytes = 1 << 36

    /// The file's bytes: header (keys sorted, padded to 8 bytes), then every tensor in the order given.
    public static func encode(_ tensors: [Tensor], metadata: [String: String]) -> [UInt8] {
        var entries: [String: Any] = [:]
        var offset = 0
        for tensor in tensors {
            let bytes = tensor.values.count * 4
            entries[tensor.name] = ["dtype": "F32", "shape": tensor.shape, "data_offsets": [offset, offset + bytes]]
            offset += bytes
        }
        if !metadata.isEmpty { entries["__metadata__"] = metadata }
        var header = try! JSONSerialization.data(withJSONObject: entries, options: [.sortedKeys, .withoutEscapingSlashes])
        while header.count % 8 != 0 { header.append(UInt8(ascii: " ")) }
        var file = [UInt8]()
        file.reserveCapacity(8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { file += $0 }
        file += header
        for tensor in tensors {
            #if _endian(little)
            tensor.values.withUnsafeBytes { file += $0 }
            #else
            for value in tensor.values { withUnsafeBytes(of: value.bitPattern.littleEndian) { file += $0 } }
            #endif
        }
        return file
    }

    /// Writes `tensors` atomically to `path`.
    public static func write(_ tensors: [Tensor], metadata: [String: String], to path: String) throws {
        try AtomicFile.write(encode(tensors, metadata: metadata), to: path)
    }

    /// Reads and validates a safetensors file.
    public static func read(path: String) throws -> Contents {
        try decode(InputFile.readAll(path: path, limit: maxFileBytes), path: path)
    }

    /// Parses the bytes of a safetensors file; `path` only names it in errors.
    public static func decode(_ bytes: [UInt8], path: String) throws -> Contents {
        guard bytes.count >= 8 else { throw FileFormatError(path, "truncated: \(bytes.count) bytes, shorter than the 8-byte header length") }
        let headerLength = bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard headerLength <= UInt64(maxHeaderBytes) else {
            throw FileFormatError(path, "header length \(headerLength) is implausible: not a safetensors file, or damaged")
        }
        guard 8 + Int(headerLength) <= bytes.count else {
            throw FileFormatError(path, "truncated: the header is \(headerLength) bytes but the file holds \(bytes.count - 8) after its length")
        }
        let dataStart = 8 + Int(headerLength)
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(bytes[8..<dataStart]))
        } catch {
            throw FileFormatError(path, "the header is not JSON: not a safetensors file, or damaged")
        }
        guard let header = json as? [String: Any] else { throw FileFormatError(path, "the header is not a JSON object") }
        var metadata: [String: String] = [:]
        if let raw = header["__metadata__"] {
            guard let strings = raw as? [String: String] else { throw FileFormatError(path, "__metadata__ must map strings to strings") }
            metadata = strings
        }
        let dataBytes = bytes.count - dataStart
        var spans: [(name: String, shape: [Int], begin: Int, end: Int)] = []
        for (name, value) in header where name != "__metadata__" {
            guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
                  let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int], offsets.count == 2
            else { throw FileFormatError(path, "tensor '\(name)' lacks dtype, shape or data_offsets") }
            guard dtype == "F32" else { throw FileFormatError(path, "tensor '\(name)' is \(dtype); vae-dist reads F32 only (convert with .float())") }
            guard shape.allSatisfy({ $0 >= 0 && $0 <= 1 << 32 }) else { throw FileFormatError(path, "tensor '\(name)' has an implausible shape \(shape)") }
            var elements = 1
            for dimension in shape {
                let (product, overflow) = elements.multipliedReportingOverflow(by: dimension)
                guard !overflow, product <= maxFileBytes else { throw FileFormatError(path, "tensor '\(name)' has an implausible shape \(shape)") }
                elements = product
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, end >= begin, end <= dataBytes else {
                throw FileFormatError(path, "truncated: tensor '\(name)' spans bytes \(begin)..<\(end) of \(dataBytes)")
            }
            guard end - begin == elements * 4 else {
                throw FileFormatError(path, "tensor '\(name)': shape \(shape) needs \(elements * 4) bytes but its offsets span \(end - begin)")
            }
            spans.append((name, shape, begin, end))
        }
        spans.sort { $0.begin < $1.begin }
        var covered = 0
        for span in spans {
            guard span.begin == covered else {
                throw FileFormatError(path, "tensor '\(span.name)' starts at byte \(span.begin), not \(covered): the tensors overlap or leave a gap")
            }
            covered = span.end
        }
        guard covered == dataBytes else { throw FileFormatError(path, "\(dataBytes - covered) bytes after the last tensor: damaged") }
        let tensors = spans.map { span in
            let values = (0..<(span.end - span.begin) / 4).map { i -> Float in
                let at = dataStart + span.begin + 4 * i
                return Float(bitPattern: UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24)
            }
            return Tensor(name: span.name, shape: span.shape, values: values)
        }
        return Contents(tensors: tensors, metadata: metadata)
    }
}
