"""The container lab: systemd + sshd hosts on a docker network, an artifact mirror, faults."""
