import Foundation
import Testing
@testable import Model
@testable import FileFormats
@testable import Datasets

/// A static-file HTTP server on 127.0.0.1 (Python's http.server on an ephemeral port) serving `directory`.
///
/// The child inherits the test's blocked signal mask (libdispatch threads block SIGTERM), so `stop()` uses
/// SIGKILL; the script also unblocks SIGTERM, exits when its parent goes away, and never lives past 5 minutes.
private final class LocalHTTPServer {
    let process = Process()
    let port: Int

    static let script = """
    import functools, http.server, os, signal, sys, threading, time
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT])
    parent, started = os.getppid(), time.time()
    def watchdog():
        while os.getppid() == parent and time.time() - started < 300:
            time.sleep(0.2)
        os._exit(0)
    threading.Thread(target=watchdog, daemon=True).start()
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args): pass
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Quiet, directory=sys.argv[1]))
    print(server.server_address[1], flush=True)
    server.serve_forever()
    """

    init?(directory: String) throws {
        guard let python = ["/usr/bin/python3", "/usr/local/bin/python3"].first(where: FileManager.default.isExecutableFile(atPath:)) else { return nil }
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", Self.script, directory]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        var line = ""
        while !line.contains("\n") {
            let data = pipe.fileHandleForReading.availableData
            if data.isEmpty { break }
            line += String(decoding: data, as: UTF8.self)
        }
        guard let port = Int(line.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        self.port = port
    }

    func stop() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

@Suite("Data set download")
struct DownloadTests {
    @Test(DataTestSupport.needsPython3) func downloadsVerifiesAndFallsBackAcrossMirrors() throws {
        let served = DataTestSupport.makeTemporaryDirectory("served")
        let target = DataTestSupport.makeTemporaryDirectory("download")
        defer {
            DataTestSupport.removeDirectory(served)
            DataTestSupport.removeDirectory(target)
        }
        // good/: a real small data set, gzip'd. bad/: the same names, but the train files differ (wrong checksums).
        try FileManager.default.createDirectory(atPath: served + "/good", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: served + "/bad", withIntermediateDirectories: true)
        DataTestSupport.writeDataset(to: served + "/good", train: 12, test: 5, gzip: true)
        DataTestSupport.writeDataset(to: served + "/bad", train: 13, test: 5, gzip: true)
        let files = try DatasetDescription.standardFileNames.map { name in
            DatasetDescription.File(name: name, gzipMD5: try MD5.hex(ofFile: served + "/good/" + name + ".gz"), contentMD5: "")
        }
        let server = try #require(try LocalHTTPServer(directory: served), "python3 could not serve files locally")
        defer { server.stop() }
        let base = "http://127.0.0.1:\(server.port)/"
        let description = DatasetDescription(name: "tiny", mirrors: [base + "bad/", base + "good"], files: files, howToGet: "")

        var log: [String] = []
        let results = try downloadDataset(description, to: target + "/tiny", progress: { log.append($0) })
        #expect(results.map(\.url) == [base + "good/train-images-idx3-ubyte.gz", base + "good/train-labels-idx1-ubyte.gz",
                                       base + "bad/t10k-images-idx3-ubyte.gz", base + "bad/t10k-labels-idx1-ubyte.gz"])
        let dataset = try Dataset.load(directory: target + "/tiny")
        #expect(try dataset.train.count == 12 && dataset.test.count == 5)
        #expect(try FileManager.default.contentsOfDirectory(atPath: target + "/tiny").sorted() == DatasetDescription.standardFileNames.map { $0 + ".gz" }.sorted())

        // Second run: everything is already there and verified, nothing is fetched.
        let again = try downloadDataset(description, to: target + "/tiny")
        #expect(again.allSatisfy { $0.url == nil })

        // Only the bad mirror: the error names the file, the mirror and the checksum problem; nothing is written.
        let onlyBad = DataTestSupport.formatError {
            _ = try downloadDataset(description, to: target + "/other", mirrors: [base + "bad/"])
        }
        #expect(onlyBad?.problem.contains("could not download tiny train-images-idx3-ubyte.gz from any mirror: \(base)bad/train-images-idx3-ubyte.gz (checksum mismatch: MD5 ") == true)
        #expect(!FileManager.default.fileExists(atPath: target + "/other/train-images-idx3-ubyte.gz"))

        // A missing file on the server: HTTP 404.
        let notFound = DataTestSupport.formatError { _ = try downloadDataset(description, to: target + "/nf", mirrors: [base + "nothing/"]) }
        #expect(notFound?.problem.contains("(HTTP 404)") == true)
    }

    @Test func unreachableMirrorsAreAllNamed() {
        let target = DataTestSupport.makeTemporaryDirectory("download")
        defer { DataTestSupport.removeDirectory(target) }
        // Port 1 on loopback: connection refused at once (no network needed, none used).
        let mirrors = ["http://127.0.0.1:1/a/", "http://127.0.0.1:1/b/"]
        let error = DataTestSupport.formatError { _ = try downloadDataset(.mnist, to: target, mirrors: mirrors, timeout: 10) }
        let message = error?.description ?? ""
        #expect(message.hasPrefix("\(target)/train-images-idx3-ubyte.gz: could not download mnist train-images-idx3-ubyte.gz from any mirror: "))
        #expect(message.contains("http://127.0.0.1:1/a/train-images-idx3-ubyte.gz (") && message.contains("http://127.0.0.1:1/b/train-images-idx3-ubyte.gz ("))
    }

    @Test func unknownNameAndBadURL() {
        #expect(DataTestSupport.formatError { _ = try downloadDataset(named: "cifar10", to: "/tmp/x") }?.problem == "unknown data set; known: mnist, fashion-mnist")
        let target = DataTestSupport.makeTemporaryDirectory("download")
        defer { DataTestSupport.removeDirectory(target) }
        let error = DataTestSupport.formatError { _ = try downloadDataset(.mnist, to: target, mirrors: ["ftp://example.invalid/"]) }
        #expect(error?.problem.contains("(not a valid http(s) URL)") == true)
    }
}
