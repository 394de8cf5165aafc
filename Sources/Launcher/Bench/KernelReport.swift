import Foundation
import Model

/// One line naming the CPU and the GEMM kernels this process runs, and why: printed by `info` (per
/// rank, since nodes of a cluster may differ) and by `bench kernels`.
enum KernelReport {
    static func line() -> String {
        let choice: String
        switch GEMMDispatch.selection {
        case .success(let selection): choice = "kernels \(selection.path) (\(selection.reason))"
        case .failure(let error): choice = "kernels: \(error)"
        }
        return "\(cpuName()): \(choice)"
    }

    /// The CPU's model name from /proc/cpuinfo (Linux), or the architecture.
    static func cpuName() -> String {
        if let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
           let line = text.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
           let colon = line.firstIndex(of: ":") {
            return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return CPUFeatures.current.architecture
    }
}
