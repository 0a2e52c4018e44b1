"""The yum importer: syncs a yum/dnf repository (repomd.xml) into ``rpm``/``srpm`` units."""
