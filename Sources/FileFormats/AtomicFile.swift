#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes files so that a reader sees either the old complete file or the new complete file, never a mix.
///
/// The bytes go to a temporary file in the target's directory (same file system, so `rename` is atomic), which is
/// `fsync`ed, renamed over the target, and then the directory is `fsync`ed so the rename itself survives a crash.
/// On any failure (ENOSPC, EDQUOT, read-only directory, ...) the temporary file is removed, the target is left as
/// it was, and a one-line `FileFormatError` says what failed.
public enum AtomicFile {
    /// Test hook: a failure to inject while writing the temporary file (simulates a full disk without needing one).
    public struct InjectedFailure: Sendable {
        /// Bytes written successfully before the failure.
        public var afterBytes: Int
        public var errorNumber: Int32
        public init(afterBytes: Int, errorNumber: Int32 = ENOSPC) {
            self.afterBytes = afterBytes
            self.errorNumber = errorNumber
        }
    }

    /// Atomically replaces (or creates) `path` with `bytes`, mode 0644.
    public static func write(_ bytes: [UInt8], to path: String, injectedFailure: InjectedFailure? = nil) throws {
        try bytes.withUnsafeBytes { try write($0, to: path, injectedFailure: injectedFailure) }
    }

    /// Atomically replaces (or creates) `path` with `bytes`, mode 0644.
    public static func write(_ bytes: UnsafeRawBufferPointer, to path: String, injectedFailure: InjectedFailure? = nil) throws {
        try write(to: path, expectedBytes: bytes.count, injectedFailure: injectedFailure) { sink in try sink(bytes) }
    }

    /// Atomically replaces (or creates) `path` with the bytes `produce` hands to its sink, piece by piece, so
    /// a large file (a checkpoint) is written from where its parts live without first being copied into one
    /// buffer. An error thrown by `produce` also leaves the previous file unchanged. `expectedBytes` only
    /// completes the error message ("after 50 of 1234 bytes").
    public static func write(
        to path: String, expectedBytes: Int? = nil, injectedFailure: InjectedFailure? = nil,
        produce: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void
    ) throws {
        let directory = directoryName(of: path)
        let base = path.split(separator: "/").last.map(String.init) ?? path
        let temporary = directory + "/." + base + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"

        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd < 0 {
            throw FileFormatError(path, "cannot write: \(systemErrorMessage(errno)) (creating a temporary file in \(directory))")
        }
        var failure: String?
        var written = 0
        struct Stop: Error {}
        func sink(_ bytes: UnsafeRawBufferPointer) throws {
            var offset = 0
            while offset < bytes.count, failure == nil {
                var chunk = min(bytes.count - offset, 1 << 24)
                if let injected = injectedFailure {
                    if written >= injected.afterBytes {
                        failure = systemErrorMessage(injected.errorNumber)
                        break
                    }
                    chunk = min(chunk, injected.afterBytes - written)
                }
                let result = Glibc.write(fd, bytes.baseAddress! + offset, chunk)
                if result < 0 {
                    if errno == EINTR { continue }
                    failure = systemErrorMessage(errno)
                } else if result == 0 {
                    failure = "write made no progress"
                } else {
                    written += result
                    offset += result
                }
            }
            if failure != nil { throw Stop() }
        }
        do {
            try produce(sink)
        } catch is Stop {
        } catch {
            failure = failure ?? "\(error)"
        }
        if failure == nil, fsync(fd) != 0 { failure = "fsync: " + systemErrorMessage(errno) }
        // close can report a deferred write error (NFS, quotas): it counts.
        if close(fd) != 0, failure == nil { failure = "close: " + systemErrorMessage(errno) }
        if failure == nil, rename(temporary, path) != 0 { failure = "rename: " + systemErrorMessage(errno) }
        if let failure {
            unlink(temporary)
            let of = expectedBytes.map { " of \($0)" } ?? ""
            throw FileFormatError(path, "cannot write: \(failure) after \(written)\(of) bytes; the previous file, if any, is unchanged")
        }
        syncDirectory(directory)
    }

    /// `fsync` on a directory makes a rename in it durable. Best effort: some file systems refuse it.
    static func syncDirectory(_ directory: String) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            _ = fsync(fd)
            close(fd)
        }
    }

    static func directoryName(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }
}
