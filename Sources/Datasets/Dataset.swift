#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import FileFormats

/// An MNIST-format data set: a train and a test split loaded from one directory holding the four standard files
/// (`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`),
/// each plain or gzip-compressed (`.gz`; the plain file wins when both exist).
///
/// The train split is always read; the test split is read with it or at its first use (`TestSplitLoading`), so a
/// run that never reads it does not hold its pixels.
public struct Dataset: Sendable {
    /// The name it was asked for (`mnist`, `fashion-mnist`) or the directory's path.
    public let name: String
    /// The directory it was loaded from.
    public let directory: String
    public let train: DataSplit
    /// The test split's files, read by `load(test: .upFront)` or by the first `test`.
    public let testSplit: LazySplit

    /// The test split, read now if it was not yet (see `TestSplitLoading`); a bad test file throws its one-line
    /// error here, every time.
    public var test: DataSplit {
        get throws { try testSplit.get() }
    }

    /// Loads the four files from `directory`: the train split now, the test split as `test` says.
    public static func load(directory: String, name: String? = nil, classCount: Int = 10,
                            test loading: TestSplitLoading = .upFront) throws -> Dataset {
        let paths = try DatasetLocator.filePaths(in: directory)
        let train = try DataSplit(imagesPath: paths[0], labelsPath: paths[1], classCount: classCount)
        let test = LazySplit(imagesPath: paths[2], labelsPath: paths[3], classCount: classCount,
                             requiredShape: (train.images.rows, train.images.cols))
        if loading == .upFront { _ = try test.get() }
        return Dataset(name: name ?? directory, directory: directory, train: train, testSplit: test)
    }

    /// Finds the data set `nameOrDirectory` (see `DatasetLocator.locate`) and loads it.
    public static func load(
        _ nameOrDirectory: String, dataDirectory: String? = nil,
        environment: [String: String] = DatasetLocator.processEnvironment(), test loading: TestSplitLoading = .upFront
    ) throws -> Dataset {
        let directory = try DatasetLocator.locate(nameOrDirectory, dataDirectory: dataDirectory, environment: environment)
        return try load(directory: directory, name: nameOrDirectory, test: loading)
    }
}

/// Where a data set is looked for, in order:
///
/// 1. `dataDirectory` (the `--data-dir` flag): the directory holding the four files, or holding `<name>/` with them;
/// 2. `$VAE_DIST_DATA/<name>` — `VAE_DIST_DATA` names a ROOT holding one sub-directory per data set
///    (laid out like `/usr/share/datasets`), never the files themselves, so one variable serves every data set;
/// 3. `./data/<name>` (where `vae-dist data download` puts it by default);
/// 4. `/usr/share/datasets/<name>` (Debian's `dataset-fashion-mnist` installs Fashion-MNIST there).
///
/// A name that is not a known data set but is a path to a directory is loaded from that directory.
public enum DatasetLocator {
    /// Default root for downloads and the third place looked in.
    public static let localDataRoot = "data"
    public static let systemDataRoot = "/usr/share/datasets"
    public static let environmentVariable = "VAE_DIST_DATA"

    /// The process environment, read through libc so the data module needs no Foundation.
    public static func processEnvironment() -> [String: String] {
        var result: [String: String] = [:]
        if let value = getenv(environmentVariable) { result[environmentVariable] = String(cString: value) }
        return result
    }

    /// The directory to load `nameOrDirectory` from, or an error naming every place looked and how to get the data.
    ///
    /// `localRoot` and `systemRoot` are the third and fourth places' roots, parameters only so tests can move them.
    public static func locate(
        _ nameOrDirectory: String, dataDirectory: String? = nil, environment: [String: String] = [:],
        localRoot: String = localDataRoot, systemRoot: String = systemDataRoot
    ) throws -> String {
        let known = DatasetDescription.named(nameOrDirectory)
        let name = known?.name ?? nameOrDirectory
        var looked: [String] = []

        func consider(_ directory: String, label: String) -> Bool {
            switch status(of: directory) {
            case .complete: return true
            case .missing: looked.append("\(label) (no such directory)")
            case .incomplete(let missing): looked.append("\(label) (lacks \(missing.joined(separator: ", ")))")
            }
            return false
        }

        if let dataDirectory {
            if consider(dataDirectory, label: dataDirectory) { return dataDirectory }
            let nested = join(dataDirectory, name)
            if known != nil, consider(nested, label: nested) { return nested }
        }
        if known == nil {
            // Not a known name: it must be a directory holding the files.
            if consider(nameOrDirectory, label: nameOrDirectory) { return nameOrDirectory }
            let names = DatasetDescription.known.map(\.name).joined(separator: ", ")
            throw FileFormatError(nameOrDirectory, "no such data set: not one of \(names), and not a directory holding the four IDX files; looked in: \(looked.joined(separator: "; "))")
        }
        if let root = environment[environmentVariable], !root.isEmpty {
            let candidate = join(root, name)
            if consider(candidate, label: "$\(environmentVariable)/\(name) = \(candidate)") { return candidate }
        } else {
            looked.append("$\(environmentVariable)/\(name) ($\(environmentVariable) unset)")
        }
        let local = join(localRoot, name)
        if consider(local, label: local.hasPrefix("/") ? local : "./" + local) { return local }
        let system = join(systemRoot, name)
        if consider(system, label: system) { return system }
        throw FileFormatError(name, "data set not found; looked in: \(looked.joined(separator: "; ")); \(known!.howToGet)")
    }

    /// The four file paths in `directory` (plain preferred over `.gz`), or an error listing the missing ones.
    public static func filePaths(in directory: String) throws -> [String] {
        switch status(of: directory) {
        case .missing: throw FileFormatError(directory, "no such directory")
        case .incomplete(let missing): throw FileFormatError(directory, "missing \(missing.joined(separator: ", "))")
        case .complete: break
        }
        return DatasetDescription.standardFileNames.map { existingFile(directory, $0)! }
    }

    private enum DirectoryStatus { case missing, incomplete([String]), complete }

    private static func status(of directory: String) -> DirectoryStatus {
        guard kind(of: directory) == .directory else { return .missing }
        let missing = DatasetDescription.standardFileNames.filter { existingFile(directory, $0) == nil }.map { $0 + "[.gz]" }
        return missing.isEmpty ? .complete : .incomplete(missing)
    }

    private static func existingFile(_ directory: String, _ name: String) -> String? {
        for candidate in [join(directory, name), join(directory, name + ".gz")] where kind(of: candidate) != .missing {
            // A directory in place of a file is returned too, so loading reports it by name.
            return candidate
        }
        return nil
    }

    enum Kind { case missing, directory, other }

    static func kind(of path: String) -> Kind {
        var info = stat()
        guard stat(path, &info) == 0 else { return .missing }
        return info.st_mode & S_IFMT == S_IFDIR ? .directory : .other
    }

    static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }
}
