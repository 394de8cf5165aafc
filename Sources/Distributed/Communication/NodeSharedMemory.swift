import Foundation
import MPIShim
#if canImport(Glibc)
import Glibc
#endif

/// Memory that every rank of a one-node job maps at once: an MPI-3 shared window
/// (`MPI_Win_allocate_shared`), so data moves between ranks through the cache hierarchy instead of
/// through MPI's message copies. One allocation, made by rank 0 and zeroed, that every rank sees at its
/// own address; how it is divided is the caller's business.
///
/// Ordering follows MPI's unified memory model idiom: all ranks hold a passive-target epoch on the window
/// for its whole life (`MPI_Win_lock_all`), and `synchronize()` is `MPI_Win_sync`, a barrier over the
/// node, `MPI_Win_sync`: every write any rank made before it is visible to every rank after it.
///
/// The window lives as long as the process (MPI_Finalize reclaims it): freeing it is collective, and a
/// rank that fails alone must not leave the others waiting in `MPI_Win_free`.
public final class NodeSharedMemory: @unchecked Sendable {
    /// This rank's index among the ranks that share the window (equal to its world rank).
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
        var node: MPI_Comm? = nil
        try MPICommunicator.check(MPI_Comm_split_type(comm, shim_comm_type_shared(), Int32(rank), shim_info_null(), &node),
                                  "MPI_Comm_split_type")
        guard let node else { throw CommunicatorError("MPI_Comm_split_type returned no communicator") }
        var nodeSize: Int32 = 0
        try MPICommunicator.check(MPI_Comm_size(node, &nodeSize), "MPI_Comm_size")
        // Rank 0 allocates it all, with a cache line of slack: Open MPI does not align the segment to one.
        let alignment = 64
        let bytes = max(floats, 1) * MemoryLayout<Float>.stride + alignment
        // Every rank learns whether all of them share one node (a rank on another host makes it false
        // everywhere) and whether rank 0's backing directory has room (with 32 MiB left for Open MPI's own).
        let directory = ProcessInfo.processInfo.environment["OMPI_MCA_osc_sm_backing_directory"] ?? "/dev/shm"
        var verdict: [Double] = [Int(nodeSize) == size ? 0 : 1, 0]
        if rank == 0, let free = Self.freeBytes(directory), free < bytes + (32 << 20) { verdict[1] = Double(free) + 1 }
        try allreduceSum(&verdict)
        guard verdict[0] == 0 && verdict[1] == 0 else {
            var unused: MPI_Comm? = node
            MPI_Comm_free(&unused)
            if verdict[0] != 0 { return nil }
            throw SharedMemoryUnavailable(description: String(
                format: "%@ has %.0f MB free; a shared window of %.0f MB (plus Open MPI's own) does not fit",
                directory, (verdict[1] - 1) / 1e6, Double(bytes) / 1e6))
        }
        var base: UnsafeMutableRawPointer? = nil
        var window: MPI_Win? = nil
        try MPICommunicator.check(
            MPI_Win_allocate_shared(rank == 0 ? bytes : 0, 1, shim_info_null(), node, &base, &window),
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
        if rank == 0 { memset(aligned, 0, floats * MemoryLayout<Float>.stride) }
        try MPICommunicator.check(MPI_Win_lock_all(Int32(shim_mode_nocheck()), window), "MPI_Win_lock_all")
        let memory = NodeSharedMemory(window: window, node: node, rank: rank, size: size, base: floatsBase, count: floats)
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
