"""The yum distributor: publishes ``rpm``/``srpm`` units as a yum repository."""
