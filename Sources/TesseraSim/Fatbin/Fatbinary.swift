/// Reads the fatbinary containers nvcc embeds in programs. (Placeholder: being implemented.)
public enum Fatbinary {
    /// The PTX text best suited to a device of compute capability `smVersion` (e.g. 90).
    public static func ptx(fromContainer bytes: UnsafeRawBufferPointer, smVersion: Int) throws(SimError) -> String {
        throw SimError(.notSupported, "fatbinary reading is not implemented yet")
    }
}
