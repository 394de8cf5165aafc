import Testing
@testable import Model

@Suite struct FlatBufferTests {
    @Test func alignmentAndZeroing() {
        let small = FlatBuffer(count: 1000)
        #expect(Int(bitPattern: small.baseAddress) % 64 == 0)
        #expect(small.toArray().allSatisfy { $0 == 0 })
        let large = FlatBuffer(count: 700_000)               // 2.8 MB ≥ 2 MiB
        #expect(large.alignment == FlatBuffer.hugePageSize)
        #expect(Int(bitPattern: large.baseAddress) % FlatBuffer.hugePageSize == 0)
        #expect(large[699_999] == 0)
        let empty = FlatBuffer(count: 0)
        #expect(empty.count == 0 && empty.checksum() == FlatBuffer(count: 0).checksum())
    }

    @Test func checksumSeesEveryBitAndOnlyContents() {
        let values = uniformArray(1003, tag: 60, in: -1...1)
        let a = FlatBuffer(values), b = FlatBuffer(values)
        #expect(a.checksum() == b.checksum())
        for index in [0, 7, 8, 500, 1000, 1002] {          // body lanes and the scalar tail
            let before = b[index]
            b[index] = Float(bitPattern: before.bitPattern ^ 1)   // flip the lowest mantissa bit
            #expect(a.checksum() != b.checksum(), "index \(index)")
            b[index] = before
        }
        #expect(a.checksum() == b.checksum())
        // Swapping two elements changes it too (position matters).
        b[3] = a[4]; b[4] = a[3]
        #expect(a.checksum() != b.checksum())
        // Same prefix, different length.
        #expect(FlatBuffer(Array(values[0..<1000])).checksum() != a.checksum())
    }

    @Test func layoutAlignsTensorsAndInitializesLikePyTorch() {
        var layout = ParameterLayout()
        let linear = Linear("fc", inputs: 50, outputs: 3, activation: .relu, layout: &layout)
        #expect(linear.weightOffset == 0 && linear.biasOffset == 160)          // 150 rounded up to 16
        #expect(layout.count == 176 && layout.parameterCount == 153)
        let parameters = FlatBuffer(count: layout.count)
        layout.initialize(parameters, seed: 9)
        let bound = 1 / Float(50).squareRoot()
        let weights = (0..<150).map { parameters[$0] }
        #expect(weights.allSatisfy { abs($0) <= bound })
        #expect(weights.max()! > 0.8 * bound && weights.min()! < -0.8 * bound)
        #expect((150..<160).allSatisfy { parameters[$0] == 0 })              // padding stays zero
        let again = FlatBuffer(count: layout.count)
        layout.initialize(again, seed: 9)
        #expect(again.checksum() == parameters.checksum())
        layout.initialize(again, seed: 10)
        #expect(again.checksum() != parameters.checksum())
    }
}
