package portscan

import (
	"context"

	"portwatch/pkg/sock"
)

// Scanner lists the local sockets in use on the host.
type Scanner interface {
	Scan(ctx context.Context) ([]sock.Socket, error)
}
