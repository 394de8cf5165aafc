import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import FileFormats

/// What `downloadDataset` did with one file.
public struct DownloadedFile: Sendable, Equatable {
    public let path: String
    /// The URL it came from, or nil when a verified copy was already there.
    public let url: String?
    public let bytes: Int
}

/// Fetches the four `.gz` files of `dataset` into `directory` (created if needed), trying `mirrors` in order
/// (default: the data set's own list), verifying each file's MD5 against `dataset`, and writing each atomically.
///
/// A file already present with the right MD5 is not fetched again. When no mirror delivers a file with the right
/// checksum, throws one line naming the file and every mirror with its failure (e.g. no network).
/// `progress` receives one human-readable line per event.
public func downloadDataset(
    _ dataset: DatasetDescription, to directory: String, mirrors: [String]? = nil,
    timeout: Double = 60, progress: (String) -> Void = { _ in }
) throws -> [DownloadedFile] {
    let mirrors = (mirrors ?? dataset.mirrors).map { $0.hasSuffix("/") ? $0 : $0 + "/" }
    guard !mirrors.isEmpty else { throw FileFormatError(directory, "no mirror to download \(dataset.name) from") }
    do {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    } catch {
        throw FileFormatError(directory, "cannot create directory: \((error as NSError).localizedDescription)")
    }
    let fetcher = HTTPFetcher(timeout: timeout)
    defer { fetcher.session.finishTasksAndInvalidate() }
    var results: [DownloadedFile] = []
    for file in dataset.files {
        let name = file.name + ".gz"
        let target = DatasetLocator.join(directory, name)
        if DatasetLocator.kind(of: target) == .other, (try? MD5.hex(ofFile: target)) == file.gzipMD5 {
            progress("\(target): already present, checksum OK")
            results.append(DownloadedFile(path: target, url: nil, bytes: (try? InputFile(path: target).size) ?? 0))
            continue
        }
        var failures: [String] = []
        var done = false
        for mirror in mirrors where !done {
            let url = mirror + name
            progress("fetching \(url)")
            switch fetcher.fetch(url) {
            case .failure(let reason):
                failures.append("\(url) (\(reason))")
            case .success(let body):
                let digest = MD5.hex(body)
                guard digest == file.gzipMD5 else {
                    failures.append("\(url) (checksum mismatch: MD5 \(digest), expected \(file.gzipMD5))")
                    continue
                }
                try AtomicFile.write(body, to: target)
                progress("\(target): \(body.count) bytes, MD5 OK")
                results.append(DownloadedFile(path: target, url: url, bytes: body.count))
                done = true
            }
        }
        if !done {
            throw FileFormatError(target, "could not download \(dataset.name) \(name) from any mirror: \(failures.joined(separator: "; "))")
        }
    }
    return results
}

/// `downloadDataset` by name (`mnist`, `fashion-mnist`).
public func downloadDataset(
    named name: String, to directory: String? = nil, mirrors: [String]? = nil,
    timeout: Double = 60, progress: (String) -> Void = { _ in }
) throws -> [DownloadedFile] {
    guard let dataset = DatasetDescription.named(name) else {
        let names = DatasetDescription.known.map(\.name).joined(separator: ", ")
        throw FileFormatError(name, "unknown data set; known: \(names)")
    }
    let directory = directory ?? DatasetLocator.join(DatasetLocator.localDataRoot, dataset.name)
    return try downloadDataset(dataset, to: directory, mirrors: mirrors, timeout: timeout, progress: progress)
}

/// Synchronous HTTP GET over URLSession, for a command-line tool: the completion handler fills a locked box and
/// signals a semaphore the caller waits on (Swift 6 strict concurrency: the box is the only shared state).
struct HTTPFetcher {
    enum Outcome: Sendable {
        case success([UInt8])
        case failure(String)
    }

    let session: URLSession

    init(timeout: Double) {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = max(timeout, 30 * 60)
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        session = URLSession(configuration: configuration)
    }

    func fetch(_ address: String) -> Outcome {
        guard let url = URL(string: address), let scheme = url.scheme, ["http", "https"].contains(scheme) else {
            return .failure("not a valid http(s) URL")
        }
        final class Box: @unchecked Sendable {
            let lock = NSLock()
            var outcome: Outcome = .failure("no response")
        }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        let task = session.dataTask(with: url) { data, response, error in
            let outcome: Outcome
            if let error {
                outcome = .failure(error.localizedDescription)
            } else if let http = response as? HTTPURLResponse, http.statusCode != 200 {
                outcome = .failure("HTTP \(http.statusCode)")
            } else if let data {
                outcome = .success([UInt8](data))
            } else {
                outcome = .failure("empty response")
            }
            box.lock.withLock { box.outcome = outcome }
            done.signal()
        }
        task.resume()
        done.wait()
        return box.lock.withLock { box.outcome }
    }
}
