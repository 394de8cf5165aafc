extension Communicator {
    /// Runs `body` on every rank, then makes every rank agree on whether it worked.
    ///
    /// Use it around work that can fail on some ranks only (loading data from each host's disk, parsing a
    /// file rank 0 read): if any rank failed, every rank throws the same `AgreedFailure`, whose message is
    /// the failing ranks' own error — one line when they all failed alike — so no rank is left waiting in
    /// the next collective and the user reads the cause once. `body` must not call collectives.
    public func collectively<T>(_ body: () throws -> T) throws -> T {
        var result: Result<T, any Error>
        do { result = .success(try body()) } catch { result = .failure(error) }
        var message: [UInt8] = []
        if case .failure(let error) = result { message = Array("\(error)".utf8) }
        let failures = try allgather(message.isEmpty ? 0 : 1)
        guard failures.contains(1) else { return try result.get() }
        let messages = try gather(bytes: message, root: 0)
        var text = ""
        if let messages {
            let failed = messages.indices.filter { failures[$0] == 1 }
            let distinct = Array(Set(failed.map { messages[$0] })).sorted { $0.lexicographicallyPrecedes($1) }
            if distinct.count == 1 {
                text = String(decoding: distinct[0], as: UTF8.self)
                if size > 1 && failed.count < size { text += " (on rank\(failed.count == 1 ? "" : "s") \(failed.map(String.init).joined(separator: ", ")))" }
            } else {
                text = failed.map { "rank \($0): " + String(decoding: messages[$0], as: UTF8.self) }.joined(separator: "; ")
            }
        }
        throw AgreedFailure(text)
    }
}
