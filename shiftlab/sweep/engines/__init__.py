"""Where a sweep runs: ``local`` (this process, default) or ``ray`` (Ray Data, on a local or remote Ray cluster).

Each engine module has ``run(root, plan, swept, device, batch_size, progress, **options)`` and
writes the plan's pending partitions into the sweep folder ``root`` in the same layout.
"""
