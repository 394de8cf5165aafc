import Foundation
import Testing
@testable import FileFormats

/// The safetensors container: a round trip keeps every bit, and every damaged or foreign file is a
/// one-line error.
struct SafeTensorsTests {
    let tensors = [
        SafeTensors.Tensor(name: "fc1.weight", shape: [2, 3], values: [1, -2.5, .pi, 0, -0.0, 1e-30]),
        SafeTensors.Tensor(name: "fc1.bias", shape: [2], values: [7, Float(bitPattern: 0x7fc0_1234)]),
        SafeTensors.Tensor(name: "empty", shape: [0, 4], values: []),
    ]

    @Test func roundTripKeepsEveryBitAndTheMetadata() throws {
        let bytes = SafeTensors.encode(tensors, metadata: ["flags": "--lr 0.001", "format": "vae-dist"])
        #expect((bytes.count - 8 - (tensors.map { $0.values.count * 4 }.reduce(0, +))) % 8 == 0)  // header padded to 8
        let read = try SafeTensors.decode(bytes, path: "m.safetensors")
        #expect(read.metadata == ["flags": "--lr 0.001", "format": "vae-dist"])
        for tensor in tensors {
            let back = try #require(read.tensor(tensor.name))
            #expect(back.shape == tensor.shape)
            #expect(back.values.map(\.bitPattern) == tensor.values.map(\.bitPattern))
        }
    }

    /// Rewrites the header JSON of a valid file (keeping the data) to build damaged files.
    func withHeader(_ header: String, data: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = []
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { bytes += $0 }
        return bytes + Array(header.utf8) + data
    }

    @Test func damagedFilesAreOneLineErrors() {
        let good = SafeTensors.encode(tensors, metadata: [:])
        let data = [UInt8](repeating: 0, count: 8)
        let cases: [(String, [UInt8], String)] = [
            ("short", [1, 2, 3], "shorter than the 8-byte header length"),
            ("huge header", [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0] + data, "implausible"),
            ("truncated header", Array(good[0..<20]), "truncated"),
            ("truncated data", Array(good.dropLast(4)), "truncated"),
            ("not JSON", withHeader("{nope", data: data), "not JSON"),
            ("bf16", withHeader(#"{"a":{"dtype":"BF16","shape":[4],"data_offsets":[0,8]}}"#, data: data), "F32 only"),
            ("shape vs offsets", withHeader(#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: data), "needs 12 bytes"),
            ("overlap", withHeader(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: data), "overlap"),
            ("gap", withHeader(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: data), "overlap or leave a gap"),
            ("trailing", withHeader(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: data), "after the last tensor"),
            ("metadata", withHeader(#"{"__metadata__":{"n":1}}"#, data: []), "strings to strings"),
        ]
        for (name, bytes, expected) in cases {
            let error = DataTestSupport.formatError { _ = try SafeTensors.decode(bytes, path: "/m.safetensors") }
            #expect(error?.problem.contains(expected) == true, "\(name): \(String(describing: error))")
        }
    }
}
