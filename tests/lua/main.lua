-- The Lua node's main service: a watchdog, the two test services, the
-- cluster port, then the ready line the Rust guard waits for.
--
-- Lines meant for the Rust side start with "SKYTEST " (after the logger's
-- "[:0000000x] " prefix); see README.md.
local skynet = require "skynet"
require "skynet.manager"
local cluster = require "skynet.cluster"

skynet.start(function()
	local node = assert(skynet.getenv "skycluster_node", "no skycluster_node in config")
	local lifetime = tonumber(skynet.getenv "skycluster_lifetime") or 120

	-- Bounded lifetime even if the Rust side never kills us.
	skynet.timeout(lifetime * 100, function()
		-- Straight to stderr: abort can stop the logger before it writes.
		io.stderr:write(string.format("SKYTEST watchdog: %d s are over, aborting\n", lifetime))
		io.stderr:flush()
		skynet.abort()
	end)

	local callee = skynet.newservice("callee")
	skynet.name(".callee", callee)
	cluster.register("callee", callee)

	local control = skynet.newservice("control")
	skynet.name(".control", control)
	cluster.register("control", control)

	local ok, err = pcall(cluster.open, node)
	if not ok then
		-- The guard picks another port and starts a new node.
		skynet.error("SKYTEST open-failed " .. tostring(err))
		skynet.abort()
		return
	end
	skynet.error(string.format("SKYTEST ready callee=%d control=%d", callee, control))
end)
