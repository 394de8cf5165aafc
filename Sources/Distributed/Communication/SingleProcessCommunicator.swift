#if canImport(Glibc)
import Glibc
#endif

/// A communicator for a job of exactly one rank that never touches MPI: every collective is the
/// identity. Unit tests and single-process tools use it; `MPICommunicator` started without `mpirun`
/// also has one rank, but runs the real MPI code paths.
public final class SingleProcessCommunicator: Communicator {
    public init() {}

    public var rank: Int { 0 }
    public var size: Int { 1 }

    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {}
    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws {}
    public func allreduceSumInTreeOrder(_ buffer: UnsafeMutableBufferPointer<Float>, waiting: CollectiveWait) throws {}
    public func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) throws {
        try CommunicatorError.checkRoot(root, size: 1)
    }
    public func broadcast(bytes: inout [UInt8], root: Int) throws {
        try CommunicatorError.checkRoot(root, size: 1)
    }
    public func allgather(_ value: UInt64) throws -> [UInt64] { [value] }
    public func gather(bytes: [UInt8], root: Int) throws -> [[UInt8]]? {
        try CommunicatorError.checkRoot(root, size: 1)
        return [bytes]
    }
    public func barrier() throws {}
    public func abort(message: String?, code: Int32) -> Never {
        if let message { printError(message) }
        exit(code)
    }
}
