// The audit entry lives in its own small module, so the data plane sees it without the
// repositories; everything that imports the model sees it as before.
@_exported import PortcullisAudit
