import Foundation
import Testing

/// A real notebook executed by nbclient on an IPython kernel that runs under `tessera run` and computes with
/// CuPy: the `%tessera` magics (python/tessera-jupyter) show the kernel's vGPU and page its memory out.
@Suite(.serialized) struct NotebookTests {
    @Test func notebookShowsItsVGPUAndReleasesItsMemory() throws {
        let node = try TestNode(backend: ["--sim-gpus", "1", "--sim-gpu-memory", "2GiB", "--page-idle-after", "30"])
        let script = Products.packageRoot.appendingPathComponent("samples/python/notebook_check.py").path
        let r = Command.run(PythonClientTests.python, [script, Products.tessera.path, node.socketPath, "512"], timeout: 1200)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)\n\(node.log)")
        #expect(r.stdout.contains("notebook: all checks passed"), "\(r.stdout)\n\(r.stderr)")
        #expect(node.log.contains("paged out") && node.log.contains("paged in"))
        let (status, empty) = try node.waitForStatus(timeout: 5) { $0.sessions.isEmpty }
        #expect(empty && status.pagedBytesHeld == 0, "\(status)")
    }
}
