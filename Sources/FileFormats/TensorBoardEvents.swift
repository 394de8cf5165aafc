import Foundation

/// TensorBoard event files (`events.out.tfevents.*`), which TensorBoard, W&B and others read.
///
/// A file is a sequence of TFRecords, each
///
///     UInt64 length | UInt32 masked CRC-32C of the length | length bytes | UInt32 masked CRC-32C of the bytes
///
/// (little-endian; masked = ((crc >> 15) | (crc << 17)) + 0xa282ead8), each holding one `tensorflow.Event`
/// protocol buffer. The few fields needed are encoded by hand (`ProtobufWriter`): a dependency on
/// swift-protobuf and its generated code would be larger than all of this.
///
///     Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
///     Summary { repeated Value value = 1; }
///     Value   { string tag = 1; float simple_value = 2; Image image = 4; TensorProto tensor = 8;
///               SummaryMetadata metadata = 9; }
///     Image   { int32 height = 1; int32 width = 2; int32 colorspace = 3; bytes encoded_image_string = 4; }
public enum TensorBoardEvents {
    /// One summary value of an event.
    public enum Value {
        case scalar(tag: String, value: Float)
        /// A PNG with its size and channel count (1 gray, 3 RGB).
        case image(tag: String, png: [UInt8], height: Int, width: Int, channels: Int)
        /// Markdown text, shown by TensorBoard's text plugin.
        case text(tag: String, text: String)
    }

    /// The record holding the file's first event, `file_version: "brain.Event:2"`.
    public static func fileVersionRecord(wallTime: Double) -> [UInt8] {
        var event = ProtobufWriter()
        event.double(1, wallTime)
        event.string(3, "brain.Event:2")
        return record(event.bytes)
    }

    /// The record of one event at `step` holding `values`.
    public static func eventRecord(step: Int, wallTime: Double, values: [Value]) -> [UInt8] {
        var summary = ProtobufWriter()
        for value in values {
            var v = ProtobufWriter()
            switch value {
            case .scalar(let tag, let number):
                v.string(1, tag)
                v.float(2, number)
            case .image(let tag, let png, let height, let width, let channels):
                var image = ProtobufWriter()
                image.varint(1, UInt64(height))
                image.varint(2, UInt64(width))
                image.varint(3, UInt64(channels))
                image.bytes(4, png)
                v.string(1, tag)
                v.message(4, image)
            case .text(let tag, let text):
                var pluginData = ProtobufWriter()
                pluginData.string(1, "text")
                var metadata = ProtobufWriter()
                metadata.message(1, pluginData)
                var tensor = ProtobufWriter()
                tensor.varint(1, 7)  // DT_STRING
                tensor.message(2, ProtobufWriter())  // scalar shape
                tensor.bytes(8, Array(text.utf8))
                v.string(1, tag)
                v.message(8, tensor)
                v.message(9, metadata)
            }
            summary.message(1, v)
        }
        var event = ProtobufWriter()
        event.double(1, wallTime)
        event.varint(2, UInt64(bitPattern: Int64(step)))
        event.message(5, summary)
        return record(event.bytes)
    }

    /// Frames `data` as a TFRecord.
    public static func record(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(data.count + 16)
        let length = withUnsafeBytes(of: UInt64(data.count).littleEndian, Array.init)
        out += length
        withUnsafeBytes(of: maskedCRC32C(length).littleEndian) { out += $0 }
        out += data
        withUnsafeBytes(of: maskedCRC32C(data).littleEndian) { out += $0 }
        return out
    }

    /// The records of a file's bytes, each checked against its CRCs; nil for a damaged file. A truncated
    /// last record (a writer killed mid-write) ends the list.
    public static func records(_ bytes: [UInt8]) -> [[UInt8]]? {
        var result: [[UInt8]] = []
        var at = 0
        while at + 12 <= bytes.count {
            let lengthBytes = Array(bytes[at..<at + 8])
            let length = lengthBytes.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            guard littleEndianUInt32(bytes, at + 8) == maskedCRC32C(lengthBytes) else { return nil }
            guard length <= UInt64(bytes.count - at - 16) else { break }
            let data = Array(bytes[at + 12..<at + 12 + Int(length)])
            guard littleEndianUInt32(bytes, at + 12 + Int(length)) == maskedCRC32C(data) else { return nil }
            result.append(data)
            at += 16 + Int(length)
        }
        return result
    }

    /// The `step` field of an encoded event (0 when absent, as protobuf defaults it).
    public static func step(ofEvent data: [UInt8]) -> Int {
        var reader = ProtobufReader(data)
        while let (field, wireType) = reader.key() {
            if field == 2 && wireType == 0 { return Int(Int64(bitPattern: reader.varint() ?? 0)) }
            if !reader.skip(wireType) { break }
        }
        return 0
    }

    static func littleEndianUInt32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
    }

    /// TFRecord's masked CRC-32C.
    static func maskedCRC32C(_ bytes: [UInt8]) -> UInt32 {
        let crc = CRC32C.checksum(bytes)
        return ((crc >> 15) | (crc << 17)) &+ 0xa282_ead8
    }
}

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of TFRecords. zlib has only CRC-32.
enum CRC32C {
    static let table: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0x82F6_3B78 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }
}

/// Protocol-buffer wire format, the few field kinds TensorBoard's events need.
struct ProtobufWriter {
    private(set) var bytes: [UInt8] = []

    private mutating func rawVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    private mutating func key(_ field: Int, _ wireType: UInt64) { rawVarint(UInt64(field) << 3 | wireType) }

    mutating func varint(_ field: Int, _ value: UInt64) {
        key(field, 0)
        rawVarint(value)
    }

    mutating func double(_ field: Int, _ value: Double) {
        key(field, 1)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 }
    }

    mutating func float(_ field: Int, _ value: Float) {
        key(field, 5)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 }
    }

    mutating func bytes(_ field: Int, _ value: [UInt8]) {
        key(field, 2)
        rawVarint(UInt64(value.count))
        bytes += value
    }

    mutating func string(_ field: Int, _ value: String) { bytes(field, Array(value.utf8)) }

    mutating func message(_ field: Int, _ value: ProtobufWriter) { bytes(field, value.bytes) }
}

/// Just enough of a protocol-buffer reader to find a field.
struct ProtobufReader {
    let data: [UInt8]
    var at = 0

    init(_ data: [UInt8]) { self.data = data }

    mutating func varint() -> UInt64? {
        var result: UInt64 = 0, shift: UInt64 = 0
        while at < data.count, shift < 64 {
            let byte = data[at]
            at += 1
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return result }
            shift += 7
        }
        return nil
    }

    mutating func key() -> (field: Int, wireType: UInt64)? {
        guard at < data.count, let k = varint() else { return nil }
        return (Int(k >> 3), k & 7)
    }

    /// Skips a field's value; false when the data ends first or the wire type is unknown.
    mutating func skip(_ wireType: UInt64) -> Bool {
        switch wireType {
        case 0: return varint() != nil
        case 1: at += 8
        case 2: guard let n = varint() else { return false }; at += Int(n)
        case 5: at += 4
        default: return false
        }
        return at <= data.count
    }
}
