#if canImport(Glibc)
import Glibc
#endif

/// This machine's host name (`gethostname`), the name Open MPI and Slurm use for a node; "localhost" if the
/// call fails. Read without any name lookup, so it is safe where the network is down.
public func localHostName() -> String {
    var name = [CChar](repeating: 0, count: 256)
    guard gethostname(&name, name.count) == 0 else { return "localhost" }
    return String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
