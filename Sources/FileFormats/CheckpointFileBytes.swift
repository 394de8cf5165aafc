extension CheckpointFile {
    /// The raw bytes of a checkpoint file (at most `maxFileBytes`), for rank 0 to broadcast before every
    /// rank decodes them with `decode` — other hosts need not share the file system.
    public static func readBytes(path: String) throws -> [UInt8] {
        try InputFile.readAll(path: path, limit: maxFileBytes)
    }
}
