#if canImport(Glibc)
import Glibc
#endif
@testable import Distributed
import Testing

@Suite struct SharedPagesTests {
    /// Only whole pages inside the range are released: the ends are rounded inward, never outward.
    @Test func wholePagesRoundInward() {
        #expect(SharedPages.wholePages(from: 0, to: 8192, pageSize: 4096) == 0..<8192)
        #expect(SharedPages.wholePages(from: 1, to: 8192, pageSize: 4096) == 4096..<8192)
        #expect(SharedPages.wholePages(from: 4096, to: 12287, pageSize: 4096) == 4096..<8192)
        #expect(SharedPages.wholePages(from: 100, to: 4196, pageSize: 4096) == nil)  // a page's worth, no whole page
        #expect(SharedPages.wholePages(from: 4096, to: 4096, pageSize: 4096) == nil)
    }

    /// Released pages of a shared mapping leave this process's resident set but keep what they hold —
    /// the node-shared window relies on it (other ranks still read those pages).
    @Test func releasedSharedPagesKeepTheirContents() throws {
        #if os(Linux)
        let pages = 64, bytes = pages * SharedPages.pageSize
        let raw = try #require(mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0))
        try #require(raw != MAP_FAILED)
        defer { munmap(raw, bytes) }
        let floats = raw.bindMemory(to: Float.self, capacity: bytes / 4)
        for i in 0..<bytes / 4 { floats[i] = Float(i % 1000) + 0.5 }
        #expect(residentPages(raw, bytes) == pages)
        SharedPages.release(from: raw, to: raw + bytes)
        #expect(residentPages(raw, bytes) == 0)
        #expect((0..<bytes / 4).allSatisfy { floats[$0] == Float($0 % 1000) + 0.5 })
        #endif
    }

    #if os(Linux)
    /// How many of the mapping's pages this process holds: its `Rss:` in /proc/self/smaps. (Not
    /// `mincore`, which answers for the shared memory itself, that keeps the pages.)
    private func residentPages(_ start: UnsafeMutableRawPointer, _ bytes: Int) -> Int {
        guard let file = fopen("/proc/self/smaps", "r") else { return -1 }
        defer { fclose(file) }
        var lines: [String] = []
        var line: UnsafeMutablePointer<CChar>? = nil, capacity = 0
        while getline(&line, &capacity, file) > 0, let line { lines.append(String(cString: line)) }
        free(line)
        let header = String(UInt(bitPattern: start), radix: 16) + "-"
        guard let at = lines.firstIndex(where: { $0.hasPrefix(header) }),
              let rss = lines[(at + 1)...].first(where: { $0.hasPrefix("Rss:") }),
              let kilobytes = Int(rss.split(whereSeparator: \.isWhitespace)[1]) else { return -1 }
        return kilobytes * 1024 / SharedPages.pageSize
    }
    #endif
}
