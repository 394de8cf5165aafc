import Model

/// Whether the allreduce exchange sums the gradients while backward still runs (`--overlap`), and in what
/// buckets (`--bucket-kb`). The shared-memory and hierarchical exchanges do not overlap: they meet in a
/// window after backward.
public struct ExchangeOverlap: Sendable, Equatable {
    public enum Mode: String, CaseIterable, Sendable {
        /// On when the ranks span several hosts, where the link is what a step waits for; off when they
        /// share one, where the reduction thread would only compete with the ranks for their cores (the
        /// README gives the measurements).
        case auto
        case on
        case off
    }

    public var mode: Mode
    /// The smallest bucket in bytes: smaller ones start sooner, larger ones cost fewer messages.
    public var bucketBytes: Int

    /// 256, 512 and 1024 KB measured alike across two hosts (`scripts/bench/overlap`); 512 KB gives the
    /// classic model's output layer a bucket of its own, which starts while the rest of backward runs.
    public static let defaultBucketBytes = 512 << 10

    public init(_ mode: Mode = .auto, bucketBytes: Int = ExchangeOverlap.defaultBucketBytes) {
        self.mode = mode
        self.bucketBytes = bucketBytes
    }

    public static let off = ExchangeOverlap(.off)

    /// The buckets for a model whose tensors lie at `tensors` in a buffer of `parameterCount` floats, or nil
    /// when the sum waits for backward to end. Collective when `mode` is `.auto` (it counts the hosts).
    /// `.on` where it cannot work is an agreed error.
    func buckets(tensors: [Range<Int>], parameterCount: Int, world: any Communicator) throws -> GradientBuckets? {
        guard mode != .off && world.size > 1 else { return nil }
        let powerOfTwo = world.size & (world.size - 1) == 0
        if mode == .on {
            guard powerOfTwo else {
                throw AgreedFailure("--overlap on needs a power-of-two number of ranks (it sums in the pairwise tree "
                    + "of ranks), not \(world.size). Use --overlap off")
            }
            guard world.callsFromAnotherThread else {
                throw AgreedFailure("--overlap on needs MPI callable from a second thread (MPI_THREAD_SERIALIZED), "
                    + "which this MPI library does not provide. Use --overlap off")
            }
        } else {
            guard powerOfTwo && world.callsFromAnotherThread else { return nil }
            guard try world.hostCount() > 1 else { return nil }
        }
        return GradientBuckets(tensors: tensors, count: parameterCount,
                               minimumFloats: max(1, bucketBytes / MemoryLayout<Float>.stride))
    }
}
