package foldersync

import "github.com/coffer-drive/coffer/internal/client"

// setBase tells an upload what the file's last synced content was, block
// by block, so that blocks whose plaintext is unchanged are re-used
// rather than sealed and sent again. The upload re-uses nothing unless
// the server's head is still that revision.
func setBase(opt *client.PutOptions, b *base) {
	if b == nil || b.Kind != kindFile || len(b.Blocks)%32 != 0 {
		return
	}
	// The base's revision is one this device uploaded or downloaded and
	// checked: its blocks hold what the hashes say.
	bh := &client.BlockHashes{Whole: b.SHA, Revision: b.Rev}
	for i := 0; i < len(b.Blocks); i += 32 {
		bh.Blocks = append(bh.Blocks, [32]byte(b.Blocks[i:i+32]))
	}
	opt.Base = bh
}
