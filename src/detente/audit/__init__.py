"""An independent auditor: follows a registry as an outsider would, trusting only the log key.

``mirror`` keeps the auditor's own copy of every entry and the last checkpoint it accepted; ``follow``
fetches each new checkpoint, checks it extends the last one (consistency), fetches the new entries from
the C2SP entry bundles, rebuilds the tree from them, and hands them to a projection check.
"""
