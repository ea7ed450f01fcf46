/// How a node pages idle sessions' device memory out when a request does not fit (`tessera node
/// --page-idle-after SECONDS`).
public struct PagingConfiguration: Sendable, Hashable {
    /// A session idle (no request, no work in flight) this long may be paged out.
    public var idleAfterSeconds: Double
    /// Files for paged memory, with a cap; nil keeps it all in host memory.
    public var files: NodePageStore.FileSpace?

    public init(idleAfterSeconds: Double, files: NodePageStore.FileSpace? = nil) {
        self.idleAfterSeconds = idleAfterSeconds
        self.files = files
    }
}
