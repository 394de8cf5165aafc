@testable import Distributed
import Foundation
import Model
import Testing

/// The overlapped allreduce exchange: how it cuts the buffer, and in what order its thread sums.
@Suite struct OverlapTests {
    /// The classic VAE's tensors, weights then biases in forward order, 16-float aligned like the layout.
    static let classic: (tensors: [Range<Int>], count: Int) = {
        var layout = ParameterLayout()
        for (name, inputs, outputs) in [("enc.0", 784, 400), ("enc.1", 400, 40), ("dec.0", 20, 400), ("dec.1", 400, 784)] {
            _ = Linear(name, inputs: inputs, outputs: outputs, activation: .relu, layout: &layout)
        }
        return (GradientBuckets.tensors(of: layout), layout.count)
    }()

    @Test("buckets tile the buffer from its end, whole tensors, each at least the minimum but the last",
          arguments: [1, 1_000, 100_000, 131_072, 400_000, 10_000_000])
    func bucketsTileTheBuffer(minimumFloats: Int) {
        let (tensors, count) = Self.classic
        let buckets = GradientBuckets(tensors: tensors, count: count, minimumFloats: minimumFloats)
        #expect(buckets.ranges.first?.upperBound == count && buckets.ranges.last?.lowerBound == 0)
        for (a, b) in zip(buckets.ranges, buckets.ranges.dropFirst()) { #expect(b.upperBound == a.lowerBound) }
        for range in buckets.ranges.dropLast() { #expect(range.count >= minimumFloats) }
        let starts = Set(tensors.map(\.lowerBound))
        for range in buckets.ranges.dropLast() { #expect(starts.contains(range.lowerBound), "cut inside a tensor at \(range)") }
        #expect(buckets.tensorsPerBucket.reduce(0, +) == tensors.count)
        // Every tensor lies in the bucket `tensors(overlapping:)` names, and a band of its floats is counted.
        for tensor in tensors {
            let found = buckets.tensors(overlapping: tensor)
            #expect(found.count == 1 && buckets.ranges[found[0].bucket].contains(tensor.lowerBound)
                    && buckets.ranges[found[0].bucket].upperBound >= tensor.upperBound && found[0].floats == tensor.count)
            let band = (tensor.lowerBound + tensor.count / 3)..<(tensor.lowerBound + tensor.count / 2)
            #expect(buckets.tensors(overlapping: band).map(\.floats) == [band.count])
        }
        if minimumFloats == 1 { #expect(buckets.ranges.count == tensors.count) }
        if minimumFloats >= count { #expect(buckets.ranges == [0..<count]) }
    }

    @Test("padding goes with the tensor before it; the first bucket takes the start; no tensors, one bucket")
    func edges() {
        #expect(GradientBuckets(tensors: [], count: 100, minimumFloats: 10).ranges == [0..<100])
        #expect(GradientBuckets(tensors: [20..<30], count: 100, minimumFloats: 1).ranges == [0..<100])
        #expect(GradientBuckets(tensors: [50..<60, 20..<30], count: 100, minimumFloats: 1).ranges == [50..<100, 0..<50])
    }

    /// Records the buckets the reduction thread sums (and from which thread) instead of talking to ranks.
    final class RecordingCommunicator: Communicator, @unchecked Sendable {
        let lock = NSLock()
        var summed: [Range<Int>] = []
        var onMainThread = false
        var base: UnsafeMutablePointer<Float>?
        var rank: Int { 0 }
        var size: Int { 2 }
        var callsFromAnotherThread: Bool { true }
        func allreduceSumInTreeOrder(_ buffer: UnsafeMutableBufferPointer<Float>, waiting: CollectiveWait) throws {
            lock.lock(); defer { lock.unlock() }
            let start = buffer.baseAddress! - base!
            summed.append(start..<(start + buffer.count))
            onMainThread = onMainThread || Thread.isMainThread
            for i in buffer.indices { buffer[i] *= 2 }  // "the other rank holds the same": x + x
        }
        func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws { fatalError("not used") }
        func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws { fatalError("not used") }
        func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) throws {}
        func broadcast(bytes: inout [UInt8], root: Int) throws {}
        func allgather(_ value: UInt64) throws -> [UInt64] { [value, value] }
        func gather(bytes: [UInt8], root: Int) throws -> [[UInt8]]? { [bytes, bytes] }
        func barrier() throws {}
        func abort(message: String?, code: Int32) -> Never { fatalError(message ?? "abort") }
        var recorded: [Range<Int>] { lock.lock(); defer { lock.unlock() }; return summed }
    }

    /// A reduction over the classic model's buckets whose "ranks" are a `RecordingCommunicator`.
    static func recordedReduction(minimumFloats: Int)
        -> (GradientBuckets, FlatBuffer, RecordingCommunicator, BackgroundReduction) {
        let (tensors, count) = classic
        let buckets = GradientBuckets(tensors: tensors, count: count, minimumFloats: minimumFloats)
        let gradients = FlatBuffer(count: count)
        let world = RecordingCommunicator()
        world.base = gradients.baseAddress
        return (buckets, gradients, world, BackgroundReduction(gradients: gradients, buckets: buckets, world: world))
    }

    @Test("buckets are summed in their fixed order whatever order backward reports them; the one holding element 0 only at the end")
    func fixedOrder() throws {
        let (buckets, gradients, world, reduction) = Self.recordedReduction(minimumFloats: 1)
        defer { reduction.stop() }
        let count = gradients.count
        for step in 1...3 {
            for i in 0..<count { gradients[i] = Float(step) }
            world.lock.lock(); world.summed = []; world.lock.unlock()
            // Report the second bucket before the first: nothing may start before the first is reported.
            let second = buckets.ranges[1], first = buckets.ranges[0]
            reduction.ready(second)
            Thread.sleep(forTimeInterval: 0.05)
            #expect(world.recorded.isEmpty, "step \(step): a bucket started before the one ahead of it")
            reduction.ready(first)
            // Everything else but the bucket of element 0.
            for range in buckets.ranges.dropFirst(2) { reduction.ready(range) }
            let deadline = Date().addingTimeInterval(5)
            while world.recorded.count < buckets.ranges.count - 1 && Date() < deadline { Thread.sleep(forTimeInterval: 0.005) }
            Thread.sleep(forTimeInterval: 0.05)
            #expect(world.recorded == Array(buckets.ranges.dropLast()), "step \(step): \(world.recorded)")
            try reduction.finish()
            #expect(world.recorded == buckets.ranges, "step \(step)")
            #expect((0..<count).allSatisfy { gradients[$0] == Float(2 * step) }, "step \(step): every element summed once")
        }
        #expect(!world.onMainThread)
    }

    @Test("a tensor reported in bands counts once all its floats are in, whatever the bands")
    func bands() throws {
        let (buckets, gradients, world, reduction) = Self.recordedReduction(minimumFloats: 1)
        defer { reduction.stop() }
        let first = buckets.ranges[0], second = buckets.ranges[1]
        let tensor = buckets.tensorRanges.last { second.contains($0.lowerBound) }!
        reduction.ready(first)
        // The half holding the tensor's start first: it must not count for the whole tensor.
        let middle = tensor.lowerBound + tensor.count / 2
        reduction.ready(tensor.lowerBound..<middle)
        let deadline = Date().addingTimeInterval(5)
        while world.recorded.isEmpty && Date() < deadline { Thread.sleep(forTimeInterval: 0.005) }
        Thread.sleep(forTimeInterval: 0.05)
        #expect(world.recorded == [first], "half of \(tensor) reported: \(world.recorded)")
        reduction.ready(middle..<tensor.upperBound)
        while world.recorded.count < 2 && Date() < deadline { Thread.sleep(forTimeInterval: 0.005) }
        #expect(world.recorded == [first, second])
        try reduction.finish()
        #expect(world.recorded == buckets.ranges)
        #expect(gradients.count == buckets.ranges.map(\.count).reduce(0, +))
    }

    @Test("a step in which backward reports nothing (a rank without examples) sums every bucket in the same order")
    func nothingReported() throws {
        let (buckets, _, world, reduction) = Self.recordedReduction(minimumFloats: 100_000)
        defer { reduction.stop() }
        try reduction.finish()
        #expect(world.recorded == buckets.ranges)
    }
}
