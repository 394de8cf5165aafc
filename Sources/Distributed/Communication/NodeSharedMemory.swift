import Foundation
import MPIShim
#if canImport(Glibc)
import Glibc
#endif

/// Memory that every rank of a host maps at once: an MPI-3 shared window
/// (`MPI_Win_allocate_shared`), so data moves between ranks through the cache hierarchy instead of
/// through MPI's message copies. One allocation, made by the host's first rank and zeroed, that every rank sees at its
/// own address; how it is divided is the caller's business.
///
/// Ordering follows MPI's unified memory model idiom: all ranks hold a passive-target epoch on the window
/// for its whole life (`MPI_Win_lock_all`), and `synchronize()` is `MPI_Win_sync`, a barrier over the
/// node, `MPI_Win_sync`: every write any rank made before it is visible to every rank after it.
///
/// The window lives as long as the process (MPI_Finalize reclaims it): freeing it is collective, and a
/// rank that fails alone must not leave the others waiting in `MPI_Win_free`.
public final class NodeSharedMemory: @unchecked Sendable {
    /// This rank's index among the ranks that share the window (its world rank when one host has them all).
    public let rank: Int
    /// Number of ranks sharing the window.
    public let size: Int
    /// The first float, 64-byte aligned, in this process's address space.
    public let base: UnsafeMutablePointer<Float>
    /// Number of floats.
    public let count: Int
    private let window: MPI_Win
    private let node: MPI_Comm

    init(window: MPI_Win, node: MPI_Comm, rank: Int, size: Int, base: UnsafeMutablePointer<Float>, count: Int) {
        self.window = window
        self.node = node
        self.rank = rank
        self.size = size
        self.base = base
        self.count = count
    }

    /// Returns once every rank sharing the window has called it; writes before are visible after.
    public func synchronize() throws {
        try MPICommunicator.check(MPI_Win_sync(window), "MPI_Win_sync")
        try MPICommunicator.check(MPI_Barrier(node), "MPI_Barrier")
        try MPICommunicator.check(MPI_Win_sync(window), "MPI_Win_sync")
    }

    /// This rank stops holding the window's pages in its resident set; their contents stay (`SharedPages`),
    /// so no other rank is affected and no synchronization is needed.
    func releaseResidentPages() { SharedPages.release(from: base, to: base + count) }

    /// Zeroes the whole window a piece at a time, releasing each piece as it is done: the host's first
    /// rank, which zeroes it, would otherwise keep all of it resident, also the parts only other ranks use.
    func zeroWithoutHolding() {
        SharedPages.piecewise(base, count: count) { (base + $0.lowerBound).update(repeating: 0, count: $0.count) }
    }
}

/// The node's shared-memory file system lacks room for the window; every rank throws it alike.
public struct SharedMemoryUnavailable: Error, CustomStringConvertible {
    public let description: String
}

extension MPICommunicator {
    /// `floats` zeroed floats that all ranks map (collective), or nil when the ranks do not all share one
    /// node's memory — then there is no single memory to share, and callers use messages (allreduce).
    /// Throws `SharedMemoryUnavailable` (on every rank) when the directory Open MPI backs windows with
    /// (`/dev/shm`, or `$OMPI_MCA_osc_sm_backing_directory`) has too little room: a container's 64 MB
    /// `/dev/shm` is smaller than a deep model's window, and a full tmpfs answers a write with SIGBUS.
    public func nodeSharedMemory(floats: Int) throws -> NodeSharedMemory? {
        let (node, nodeRank, nodeSize) = try splitByHost()
        return try sharedWindow(node: node, rank: nodeRank, size: nodeSize, floats: floats,
                                usable: nodeSize == size)
    }

    /// For ranks on several hosts with the same number of ranks on each (more than one): a window of
    /// `floats(ranks on the host)` per host, shared by that host's ranks, and the communicator joining each rank with the
    /// ranks of the other hosts that have the same place on theirs (collective; nil otherwise, on every
    /// rank). Its rank 0 is on world rank 0's host, so a broadcast from it starts where rank 0 wrote.
    public func hostSharedMemory(floats: (_ ranksOnHost: Int) -> Int) throws -> (memory: NodeSharedMemory, acrossHosts: any Communicator)? {
        let (node, nodeRank, nodeSize) = try splitByHost()
        let sizes = try allgather(UInt64(nodeSize))
        let usable = nodeSize > 1 && nodeSize < size && sizes.allSatisfy { $0 == sizes[0] }
        guard let memory = try sharedWindow(node: node, rank: nodeRank, size: nodeSize, floats: floats(nodeSize),
                                            usable: usable)
        else { return nil }
        // Key: the world rank of the host's first rank, so world rank 0's host comes first in every group.
        var leader = Int32(rank)
        try MPICommunicator.check(MPI_Bcast(&leader, 1, shim_int32(), 0, node), "MPI_Bcast")
        var across: MPI_Comm? = nil
        try MPICommunicator.check(MPI_Comm_split(comm, Int32(nodeRank), leader, &across), "MPI_Comm_split")
        guard let across else { throw CommunicatorError("MPI_Comm_split returned no communicator") }
        return (memory, try MPICommunicator(subset: across, callsFromAnotherThread: callsFromAnotherThread))
    }

    /// This rank's host: the communicator of the ranks that can share memory with it, its rank and size there.
    private func splitByHost() throws -> (MPI_Comm, Int, Int) {
        var node: MPI_Comm? = nil
        try MPICommunicator.check(MPI_Comm_split_type(comm, shim_comm_type_shared(), Int32(rank), shim_info_null(), &node),
                                  "MPI_Comm_split_type")
        guard let node else { throw CommunicatorError("MPI_Comm_split_type returned no communicator") }
        var nodeRank: Int32 = 0, nodeSize: Int32 = 0
        try MPICommunicator.check(MPI_Comm_rank(node, &nodeRank), "MPI_Comm_rank")
        try MPICommunicator.check(MPI_Comm_size(node, &nodeSize), "MPI_Comm_size")
        return (node, Int(nodeRank), Int(nodeSize))
    }

    /// Collective over the world: when every rank says `usable` and every host's backing directory has
    /// room, a zeroed window of `floats` on `node`; nil when some rank says not usable.
    private func sharedWindow(node: MPI_Comm, rank nodeRank: Int, size nodeSize: Int, floats: Int,
                              usable: Bool) throws -> NodeSharedMemory? {
        // The host's first rank allocates it all, with a cache line of slack: Open MPI does not align the
        // segment to one.
        let alignment = 64
        let bytes = max(floats, 1) * MemoryLayout<Float>.stride + alignment
        // Every rank learns whether all of them can use a window and whether each host's backing directory
        // has room (with 32 MiB left for Open MPI's own).
        let directory = ProcessInfo.processInfo.environment["OMPI_MCA_osc_sm_backing_directory"] ?? "/dev/shm"
        // [ranks that cannot use it, hosts short of room, free bytes on those hosts]
        var verdict: [Double] = [usable ? 0 : 1, 0, 0]
        if nodeRank == 0, let free = Self.freeBytes(directory), free < bytes + (32 << 20) { verdict[1...] = [1, Double(free)] }
        try allreduceSum(&verdict)
        guard verdict[0] == 0 && verdict[1] == 0 else {
            var unused: MPI_Comm? = node
            MPI_Comm_free(&unused)
            if verdict[0] != 0 { return nil }
            let room = verdict[1] == 1 ? String(format: "has %.0f MB free", verdict[2] / 1e6)
                : "has too little room on \(Int(verdict[1])) hosts"
            throw SharedMemoryUnavailable(description: String(
                format: "%@ %@; a shared window of %.0f MB (plus Open MPI's own) does not fit",
                directory, room, Double(bytes) / 1e6))
        }
        var base: UnsafeMutableRawPointer? = nil
        var window: MPI_Win? = nil
        try MPICommunicator.check(
            MPI_Win_allocate_shared(nodeRank == 0 ? bytes : 0, 1, shim_info_null(), node, &base, &window),
            "MPI_Win_allocate_shared")
        guard let window else { throw CommunicatorError("MPI_Win_allocate_shared returned no window") }
        var segmentBytes: MPI_Aint = 0
        var unit: Int32 = 0
        var segment: UnsafeMutableRawPointer? = nil
        try MPICommunicator.check(withUnsafeMutablePointer(to: &segment) { p in
            MPI_Win_shared_query(window, 0, &segmentBytes, &unit, UnsafeMutableRawPointer(p))
        }, "MPI_Win_shared_query")
        guard let segment, segmentBytes >= bytes else {
            throw CommunicatorError("MPI_Win_shared_query: rank 0's segment is missing or smaller than \(bytes) bytes")
        }
        let aligned = segment + (alignment - Int(bitPattern: segment) % alignment) % alignment
        let floatsBase = aligned.bindMemory(to: Float.self, capacity: floats)
        try MPICommunicator.check(MPI_Win_lock_all(Int32(shim_mode_nocheck()), window), "MPI_Win_lock_all")
        let memory = NodeSharedMemory(window: window, node: node, rank: nodeRank, size: nodeSize, base: floatsBase, count: floats)
        if nodeRank == 0 { memory.zeroWithoutHolding() }
        try memory.synchronize()
        return memory
    }

    /// Bytes an unprivileged process may still write under `path`, or nil if it cannot be asked.
    static func freeBytes(_ path: String) -> Int? {
        var status = statvfs()
        guard statvfs(path, &status) == 0 else { return nil }
        return Int(status.f_bavail) * Int(status.f_frsize)
    }
}
