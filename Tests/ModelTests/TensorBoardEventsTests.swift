import Testing
@testable import FileFormats

/// TFRecord framing and the hand-encoded protocol buffers of TensorBoard event files.
struct TensorBoardEventsTests {
    @Test("CRC-32C has the standard check value")
    func crc32c() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([]) == 0)
    }

    @Test("records read back, their steps too, and a flipped bit is caught")
    func records() throws {
        let bytes = TensorBoardEvents.fileVersionRecord(wallTime: 1.5)
            + TensorBoardEvents.eventRecord(step: 300, wallTime: 2, values: [.scalar(tag: "train/loss", value: 1)])
            + TensorBoardEvents.eventRecord(step: 1 << 40, wallTime: 3, values: [.text(tag: "flags", text: "--lr 1")])
        let records = try #require(TensorBoardEvents.records(bytes))
        #expect(records.count == 3)
        #expect(records.map(TensorBoardEvents.step(ofEvent:)) == [0, 300, 1 << 40])
        var damaged = bytes
        damaged[30] ^= 0x10
        #expect(TensorBoardEvents.records(damaged) == nil)
        #expect(TensorBoardEvents.records(Array(bytes.dropLast(3)))?.count == 2)  // a torn last record ends the list
    }

    @Test("a scalar event is the protobuf TensorBoard expects, byte for byte")
    func scalarEncoding() {
        var event = ProtobufWriter()
        event.double(1, 2)
        event.varint(2, 7)
        var value = ProtobufWriter()
        value.string(1, "a")
        value.float(2, 1)
        var summary = ProtobufWriter()
        summary.message(1, value)
        event.message(5, summary)
        // wall_time (field 1, fixed64), step (field 2, varint 7), summary (field 5) > value (field 1) > tag "a", simple_value 1.0
        #expect(event.bytes == [0x09, 0, 0, 0, 0, 0, 0, 0, 0x40, 0x10, 0x07, 0x2A, 0x0A, 0x0A, 0x08, 0x0A, 0x01, 0x61,
                                0x15, 0x00, 0x00, 0x80, 0x3F])
        #expect(TensorBoardEvents.record(event.bytes).count == event.bytes.count + 16)
    }
}
