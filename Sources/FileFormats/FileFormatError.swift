/// The one error type every reader and writer in `Formats/` and `Data/` throws.
///
/// Its description is a single line that names the file and says what is wrong with it, e.g.
/// `/x/train-images-idx3-ubyte.gz: truncated: header says 60000×28×28 images (47040000 bytes) but the file holds 1200 bytes`,
/// so the command line can print it as it is and a user knows which file to fix.
public struct FileFormatError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file (or directory, or URL) the problem is about.
    public let path: String
    /// What is wrong, in words, without the path.
    public let problem: String

    public init(_ path: String, _ problem: String) {
        self.path = path
        // Keep the promise of one line even when a system message or a file name carries a newline.
        self.problem = problem.split(whereSeparator: \.isNewline).joined(separator: " ")
    }

    public var description: String { "\(path): \(problem)" }
}

/// `strerror(errno)` as a Swift string, for messages like "cannot open: No such file or directory".
@usableFromInline
func systemErrorMessage(_ code: Int32) -> String {
    String(cString: strerror(code))
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
