import Foundation
import MPIShim
#if canImport(Glibc)
import Glibc
#endif

/// `Communicator` over Open MPI's `MPI_COMM_WORLD`.
///
/// MPI is initialized on first use and finalized at process exit, exactly once per process. Started
/// without `mpirun`, the process is an MPI singleton: one rank, same code paths. The world
/// communicator's error handler is `MPI_ERRORS_RETURN`, so a failing call becomes a thrown
/// `CommunicatorError` with MPI's own message rather than an abort deep in the library.
public final class MPICommunicator: Communicator, @unchecked Sendable {
    /// The process-wide communicator; the first access initializes MPI.
    public static var world: MPICommunicator {
        get throws { try worldResult.get() }
    }

    private static let worldResult: Result<MPICommunicator, CommunicatorError> = Result {
        try MPICommunicator()
    }.mapError { $0 as? CommunicatorError ?? CommunicatorError("\($0)") }

    public let rank: Int
    public let size: Int
    let comm: MPI_Comm
    /// MPI may be called from any one thread at a time (`MPI_THREAD_SERIALIZED`), not only the one that
    /// started it: what an exchange's background reduction thread needs (`BackgroundReduction`).
    public let callsFromAnotherThread: Bool

    /// A communicator over a subset of the world (`MPI_Comm_split`), e.g. the ranks of other hosts that
    /// share this rank's place on its host (`hostSharedMemory`). Errors are returned, as on the world.
    init(subset: MPI_Comm, callsFromAnotherThread: Bool) throws {
        comm = subset
        self.callsFromAnotherThread = callsFromAnotherThread
        try MPICommunicator.check(MPI_Comm_set_errhandler(comm, shim_errors_return()), "MPI_Comm_set_errhandler")
        var r: Int32 = 0, s: Int32 = 0
        try MPICommunicator.check(MPI_Comm_rank(comm, &r), "MPI_Comm_rank")
        try MPICommunicator.check(MPI_Comm_size(comm, &s), "MPI_Comm_size")
        rank = Int(r)
        size = Int(s)
    }

    private convenience init() throws {
        var provided: Int32 = 0
        MultiHostDefaults.apply()
        try MPICommunicator.check(MPI_Init_thread(nil, nil, shim_thread_serialized(), &provided), "MPI_Init_thread")
        atexit { MPICommunicator.finalizeIfNeeded() }
        try self.init(subset: shim_comm_world(), callsFromAnotherThread: provided >= shim_thread_serialized())
    }

    private static func finalizeIfNeeded() {
        var initialized: Int32 = 0, finalized: Int32 = 0
        MPI_Initialized(&initialized)
        MPI_Finalized(&finalized)
        if initialized != 0 && finalized == 0 { MPI_Finalize() }
    }

    // MARK: Collectives

    /// MPI counts are `Int32`; longer buffers go in chunks of this many elements.
    static let maxChunk = Int(Int32.max)
    /// Bytes per `MPI_Allreduce` of `allreduceSum`. For a large message Open MPI's allreduce (reduce-scatter
    /// then allgather) mallocs a scratch buffer as large as the message on every call, and the C heap keeps it
    /// resident afterwards: the whole gradient, 11.4 MB per rank for the deep model, for the rest of the run
    /// (also after `auto` chose shared memory). A piece at a time, the scratch is one piece. 4 MiB pieces time
    /// as one call (`bench allreduce`, np=2, deep: 1.44–1.62 ms vs 1.51–1.59 ms); 2 MiB ones cost ~0.1 ms and
    /// 1 MiB ones ~0.4 ms more.
    static let allreducePieceBytes = 4 << 20

    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        try allreduceSum(buffer, datatype: shim_float())
    }

    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws {
        try allreduceSum(buffer, datatype: shim_double())
    }

    private func allreduceSum<T>(_ buffer: UnsafeMutableBufferPointer<T>, datatype: MPI_Datatype) throws {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        let piece = max(1, MPICommunicator.allreducePieceBytes / MemoryLayout<T>.stride)
        var offset = 0
        while offset < buffer.count {
            let count = min(piece, buffer.count - offset)
            try MPICommunicator.check(
                MPI_Allreduce(shim_in_place(), base + offset, Int32(count), datatype, shim_op_sum(), comm),
                "MPI_Allreduce")
            offset += count
        }
    }

    public func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) throws {
        try CommunicatorError.checkRoot(root, size: size)
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        try broadcastRaw(UnsafeMutableRawPointer(base), count: buffer.count, datatype: shim_float(), root: root)
    }

    public func broadcast(bytes: inout [UInt8], root: Int) throws {
        try CommunicatorError.checkRoot(root, size: size)
        var length = UInt64(bytes.count)
        try MPICommunicator.check(MPI_Bcast(&length, 1, shim_uint64(), Int32(root), comm), "MPI_Bcast")
        if rank != root { bytes = [UInt8](repeating: 0, count: Int(length)) }
        guard length > 0 else { return }
        try bytes.withUnsafeMutableBytes { raw in
            try broadcastRaw(raw.baseAddress!, count: raw.count, datatype: shim_byte(), root: root)
        }
    }

    private func broadcastRaw(_ base: UnsafeMutableRawPointer, count: Int, datatype: MPI_Datatype, root: Int) throws {
        var elementSize: Int32 = 0
        MPI_Type_size(datatype, &elementSize)
        var offset = 0
        while offset < count {
            let chunk = min(MPICommunicator.maxChunk, count - offset)
            try MPICommunicator.check(
                MPI_Bcast(base + offset * Int(elementSize), Int32(chunk), datatype, Int32(root), comm), "MPI_Bcast")
            offset += chunk
        }
    }

    public func allgather(_ value: UInt64) throws -> [UInt64] {
        var mine = value
        var all = [UInt64](repeating: 0, count: size)
        try MPICommunicator.check(
            MPI_Allgather(&mine, 1, shim_uint64(), &all, 1, shim_uint64(), comm), "MPI_Allgather")
        return all
    }

    public func gather(bytes: [UInt8], root: Int) throws -> [[UInt8]]? {
        try CommunicatorError.checkRoot(root, size: size)
        guard bytes.count <= MPICommunicator.maxChunk else {
            throw CommunicatorError("gather of \(bytes.count) bytes exceeds MPI's Int32 count")
        }
        var myLength = Int32(bytes.count)
        var lengths = [Int32](repeating: 0, count: size)
        try MPICommunicator.check(
            MPI_Gather(&myLength, 1, shim_int32(), &lengths, 1, shim_int32(), Int32(root), comm), "MPI_Gather")
        var displacements = [Int32](repeating: 0, count: size)
        var total = 0
        if rank == root {
            for r in 0..<size {
                displacements[r] = Int32(total)
                total += Int(lengths[r])
            }
            guard total <= MPICommunicator.maxChunk else {
                throw CommunicatorError("gather of \(total) bytes exceeds MPI's Int32 count")
            }
        }
        var received = [UInt8](repeating: 0, count: total)
        var send = bytes
        try MPICommunicator.check(
            MPI_Gatherv(&send, myLength, shim_byte(), &received, &lengths, &displacements, shim_byte(),
                        Int32(root), comm), "MPI_Gatherv")
        guard rank == root else { return nil }
        return (0..<size).map { r in
            let start = Int(displacements[r])
            return Array(received[start..<start + Int(lengths[r])])
        }
    }

    public func barrier() throws {
        try MPICommunicator.check(MPI_Barrier(comm), "MPI_Barrier")
    }

    /// Prints `message` (if any), then `MPI_Abort`s. The abort must reach mpirun's daemon on this host and,
    /// through it, every other host; when one is unreachable (link down, host frozen) the call can block for
    /// good, so a detached thread ends this process `abortGrace` seconds later whatever MPI is doing.
    public func abort(message: String?, code: Int32) -> Never {
        if let message { printError(message) }
        let who = "vae-dist: error (rank \(rank) of \(size) on \(localHostName())): "
        Thread.detachNewThread {
            Thread.sleep(forTimeInterval: Self.abortGrace)
            printError(who + "MPI_Abort did not end this rank within \(Int(Self.abortGrace)) s (a host it must "
                + "reach is unreachable); exiting")
            _exit(code)
        }
        MPI_Abort(comm, code)
        exit(code)  // MPI_Abort does not return; this satisfies the type checker.
    }

    /// Seconds `abort` waits for `MPI_Abort` before the rank exits by itself.
    public static let abortGrace: Double = 5

    // MARK: Introspection

    /// The MPI library's own version string, e.g. "Open MPI v4.1.4, package: Debian OpenMPI ...".
    /// MPI's wall clock in seconds (`MPI_Wtime`), for timing collectives as MPI benchmarks do.
    public static func wallTime() -> Double { MPI_Wtime() }

    public static func libraryVersion() -> String {
        var buffer = [CChar](repeating: 0, count: Int(shim_max_library_version_string()) + 1)
        var length: Int32 = 0
        MPI_Get_library_version(&buffer, &length)
        return String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines.union(CharacterSet(charactersIn: "\0")))
    }

    /// The name MPI gives this rank's host.
    public func processorName() -> String {
        var buffer = [CChar](repeating: 0, count: Int(shim_max_processor_name()) + 1)
        var length: Int32 = 0
        MPI_Get_processor_name(&buffer, &length)
        return String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Turns an MPI return code into a thrown error carrying MPI's own message.
    static func check(_ code: Int32, _ call: String) throws {
        guard code != shim_success() else { return }
        var buffer = [CChar](repeating: 0, count: Int(shim_max_error_string()) + 1)
        var length: Int32 = 0
        MPI_Error_string(code, &buffer, &length)
        let text = String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        throw CommunicatorError("\(call) failed: \(text) (MPI error \(code))")
    }
}
