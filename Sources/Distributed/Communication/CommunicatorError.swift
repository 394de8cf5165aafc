#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed collective or a misuse of one, with MPI's own words where MPI reported it.
public struct CommunicatorError: Error, CustomStringConvertible, Equatable {
    public let description: String

    public init(_ description: String) { self.description = description }

    static func checkRoot(_ root: Int, size: Int) throws {
        guard (0..<size).contains(root) else {
            throw CommunicatorError("root rank \(root) is outside 0..<\(size)")
        }
    }
}

/// Writes one line to standard error, unbuffered, so it survives an abort right after it.
public func printError(_ message: String) {
    let line = message.hasSuffix("\n") ? message : message + "\n"
    var bytes = Array(line.utf8)[...]
    while !bytes.isEmpty {
        let written = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
        if written <= 0 { return }
        bytes = bytes.dropFirst(written)
    }
}
