/// The collective operations data-parallel training needs, and nothing more.
///
/// Per step the ranks sum their gradients: one `allreduceSum` of the flat gradient buffer
/// (ARCHITECTURE.md, "Invariants"), or, on one node, through `nodeSharedMemory`. Rank 0 broadcasts
/// initial parameters and checkpoints. Two implementations: `MPICommunicator` (Open MPI, any number
/// of ranks, also a one-rank singleton without `mpirun`) and `SingleProcessCommunicator` (no MPI at
/// all, for unit tests and tools that never talk to other ranks).
///
/// All collectives must be called by every rank in the same order with the same sizes; a rank that
/// cannot continue calls `abort(message:)`, which ends the whole job instead of leaving the others
/// waiting in a collective.
public protocol Communicator: AnyObject {
    /// This process's index, `0..<size`.
    var rank: Int { get }
    /// Number of ranks in the job.
    var size: Int { get }

    /// In place: every rank's `buffer` becomes the element-wise sum over all ranks.
    func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws
    /// In place element-wise sum of Doubles (loss totals, example counts).
    func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws
    /// In-place sum over ranks added in the pairwise tree of rank blocks — `(x0 + x1) + (x2 + x3)` for four
    /// ranks — whatever the size of the buffer or the network: the cross-rank half of `BatchLeaves`' order.
    /// The world size must be a power of two. `waiting` says how to wait for the messages.
    func allreduceSumInTreeOrder(_ buffer: UnsafeMutableBufferPointer<Float>, waiting: CollectiveWait) throws
    /// Whether collectives may run on a thread other than MPI's first (one thread at a time).
    var callsFromAnotherThread: Bool { get }
    /// Every rank's `buffer` becomes a copy of rank `root`'s.
    func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) throws
    /// Every rank's `bytes` becomes a copy of rank `root`'s; the length travels too.
    func broadcast(bytes: inout [UInt8], root: Int) throws
    /// Every rank receives one `UInt64` from each rank, in rank order (config hashes, checksums).
    func allgather(_ value: UInt64) throws -> [UInt64]
    /// Rank `root` receives every rank's bytes in rank order; other ranks receive `nil`.
    func gather(bytes: [UInt8], root: Int) throws -> [[UInt8]]?
    /// Returns once every rank has called it.
    func barrier() throws
    /// Ends every rank of the job with `code` after printing `message` (if any) on standard error.
    func abort(message: String?, code: Int32) -> Never
    /// Collective: a window of memory all ranks map, this rank owning `floats` of it, or nil when the ranks
    /// do not all share one node (see `NodeSharedMemory`). Default: nil.
    func nodeSharedMemory(floats: Int) throws -> NodeSharedMemory?
    /// Collective: a window per host and the communicator across hosts (`MPICommunicator.hostSharedMemory`),
    /// or nil when the ranks are not spread evenly over several hosts with more than one on each. Default: nil.
    func hostSharedMemory(floats: (_ ranksOnHost: Int) -> Int) throws -> (memory: NodeSharedMemory, acrossHosts: any Communicator)?
}

/// How a rank waits for the messages of a collective it runs itself (`allreduceSumInTreeOrder`).
public enum CollectiveWait {
    /// Inside MPI, which polls the network without pause: the least latency, and the core kept busy.
    case spinning
    /// Polls, calling `pause` between polls (e.g. a short sleep), so a core that also computes is left to
    /// the computation: for a reduction on a background thread while backward runs (`BackgroundReduction`).
    /// Needs MPI callable from that thread (`MPICommunicator.callsFromAnotherThread`).
    case polling(pause: () -> Void)
}

extension Communicator {
    /// `allreduceSumInTreeOrder` waiting inside MPI.
    public func allreduceSumInTreeOrder(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        try allreduceSumInTreeOrder(buffer, waiting: .spinning)
    }
    /// Default: no.
    public var callsFromAnotherThread: Bool { false }
    public func nodeSharedMemory(floats: Int) throws -> NodeSharedMemory? { nil }
    public func hostSharedMemory(floats: (_ ranksOnHost: Int) -> Int) throws -> (memory: NodeSharedMemory, acrossHosts: any Communicator)? { nil }

    /// `true` on the rank that writes files and prints progress.
    public var isRoot: Bool { rank == 0 }

    /// Collective: the host name of every rank, in rank order (a gather to rank 0 and a broadcast).
    public func hostNames() throws -> [String] {
        var joined = Array((try gather(bytes: Array(localHostName().utf8), root: 0) ?? [])
            .map { String(decoding: $0, as: UTF8.self) }.joined(separator: "\n").utf8)
        try broadcast(bytes: &joined, root: 0)
        return String(decoding: joined, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    /// Collective: how many different hosts the ranks run on.
    public func hostCount() throws -> Int { Set(try hostNames()).count }

    /// `allreduceSum` over a Swift array.
    public func allreduceSum(_ values: inout [Float]) throws {
        try values.withUnsafeMutableBufferPointer { try allreduceSum($0) }
    }

    /// `allreduceSum` over a Swift array of Doubles.
    public func allreduceSum(_ values: inout [Double]) throws {
        try values.withUnsafeMutableBufferPointer { try allreduceSum($0) }
    }

    /// `broadcast` over a Swift array; every rank's array must already have the same count.
    public func broadcast(_ values: inout [Float], root: Int) throws {
        try values.withUnsafeMutableBufferPointer { try broadcast($0, root: root) }
    }

    /// Ranks whose `value` differs from rank 0's, or `[]` when all agree. Every rank gets the same answer,
    /// so every rank can stop with the same message instead of some waiting in the next collective.
    public func ranksDisagreeing(with value: UInt64) throws -> [Int] {
        let values = try allgather(value)
        return values.indices.filter { values[$0] != values[0] }
    }
}
