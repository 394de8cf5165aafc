import Distributed
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The signal the launcher received and has not yet passed on to mpirun (0: none). Written by the handler.
private let pendingSignal = Atomic<Int32>(0)

/// Runs `mpirun` for a job on several hosts and makes sure it ends.
///
/// When a host vanishes (its link down, the machine frozen or powered off), a rank's watchdog reports it
/// and calls `MPI_Abort`; mpirun then tells every host's daemon to kill its ranks and waits for their
/// answer, which never comes from the lost host: mpirun would hold the terminal (or the allocation)
/// forever. So the launcher runs mpirun as a child, passes its standard error through line by line, and
/// once a rank has reported an error (a line starting `vae-dist: error (rank `) gives mpirun `grace`
/// seconds to end the job; then it kills mpirun and says why. The ranks on the lost host end by themselves
/// (the watchdog's own exit) or, once the host is back, when their daemon finds mpirun gone.
///
/// mpirun runs in its own process group with standard input from /dev/null, so a Ctrl-C at the terminal
/// reaches it exactly once, passed on by the launcher (a second Ctrl-C still forces it, as with mpirun).
struct MPIRunSupervisor {
    let executable: String
    /// mpirun's argument vector, starting with its name.
    let arguments: [String]
    /// Seconds mpirun may take to end the job after a rank reported an error.
    let grace: Double

    /// Runs mpirun to its end and returns the exit status to leave with (128 + signal if it was killed).
    func run() throws -> Int32 {
        var pipeEnds: [Int32] = [0, 0]
        guard pipe(&pipeEnds) == 0 else { throw LaunchError.system("pipe", errno) }
        let (readEnd, writeEnd) = (pipeEnds[0], pipeEnds[1])
        let child = try spawn(stderrTo: writeEnd)
        close(writeEnd)
        for signalNumber in [SIGINT, SIGTERM, SIGHUP] {
            signal(signalNumber) { pendingSignal.store($0, ordering: .relaxed) }
        }

        var lines = LineScanner()
        var deadline: Double?
        var buffer = [UInt8](repeating: 0, count: 65536)
        var descriptor = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
        defer { close(readEnd) }
        while true {
            let signalNumber = pendingSignal.exchange(0, ordering: .relaxed)
            if signalNumber != 0 { kill(child, signalNumber) }
            if let deadline, Self.now() > deadline {
                printError("vae-dist launch: mpirun did not end the job \(Int(grace)) s after a rank reported "
                    + "the error above (a host it must reach is unreachable or frozen); killed mpirun. Ranks left "
                    + "on that host end by themselves, or when it is back.")
                kill(-child, SIGKILL)
                kill(child, SIGKILL)
                _ = Self.wait(for: child, blocking: true)
                return 1
            }
            // mpirun has ended: pass on what is left in the pipe and leave, even if a process it started
            // (an ssh to a host that is gone) still holds the pipe open.
            if let status = Self.wait(for: child, blocking: false) {
                _ = fcntl(readEnd, F_SETFL, fcntl(readEnd, F_GETFL) | O_NONBLOCK)
                while case let count = read(readEnd, &buffer, buffer.count), count > 0 { Self.writeAll(buffer[..<count]) }
                return status
            }
            guard poll(&descriptor, 1, 200) > 0 else { continue }  // nothing yet, or a signal arrived
            let count = read(readEnd, &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { return Self.wait(for: child, blocking: true) ?? 1 }  // mpirun closed its stderr: ending
            Self.writeAll(buffer[..<count])
            if deadline == nil && lines.containsRankError(buffer[..<count]) { deadline = Self.now() + grace }
        }
    }

    private func spawn(stderrTo writeEnd: Int32) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, STDERR_FILENO)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, 0)
        let cArguments = arguments.map { strdup($0) } + [nil]
        defer { cArguments.forEach { free($0) } }
        var child: pid_t = 0
        let status = posix_spawn(&child, executable, &actions, &attributes, cArguments, environ)
        guard status == 0 else { throw LaunchError.cannotRun(executable, String(cString: strerror(status))) }
        return child
    }

    /// mpirun's exit status (128 + signal if killed), or nil if it is still running (`blocking: false`).
    private static func wait(for child: pid_t, blocking: Bool) -> Int32? {
        var status: Int32 = 0
        var result: pid_t
        repeat { result = waitpid(child, &status, blocking ? 0 : WNOHANG) } while result < 0 && errno == EINTR
        guard result == child else { return nil }
        let signalled = status & 0x7f
        return signalled == 0 ? (status >> 8) & 0xff : 128 + signalled
    }

    private static func writeAll(_ bytes: ArraySlice<UInt8>) {
        var rest = bytes
        while !rest.isEmpty {
            let written = rest.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
            if written <= 0 { return }
            rest = rest.dropFirst(written)
        }
    }

    private static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
}

/// Finds lines starting with a rank's error prefix in a byte stream that arrives in arbitrary pieces.
struct LineScanner {
    static let rankErrorPrefix = Array("vae-dist: error (rank ".utf8)
    private var line: [UInt8] = []

    /// Feeds `bytes`; true if a line completed (or begun) in them starts with the rank-error prefix.
    mutating func containsRankError(_ bytes: ArraySlice<UInt8>) -> Bool {
        var found = false
        for byte in bytes {
            if byte == UInt8(ascii: "\n") {
                line.removeAll(keepingCapacity: true)
                continue
            }
            if line.count < Self.rankErrorPrefix.count {
                line.append(byte)
                if line == Self.rankErrorPrefix { found = true }
            }
        }
        return found
    }
}

enum LaunchError: Error, CustomStringConvertible {
    /// A system call that failed, with the errno it left.
    case system(String, Int32)
    case cannotRun(String, String)

    var description: String {
        switch self {
        case .system(let call, let number): "\(call) failed: \(String(cString: strerror(number)))"
        case .cannotRun(let path, let why): "cannot run \(path): \(why)"
        }
    }
}
