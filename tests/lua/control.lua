-- The service Rust tests call to make this Lua node act: registered as
-- @control, named .control. Each method does one cluster operation and
-- replies with its outcome; a call through pcall replies what pcall
-- returned (true and the values, or false and the error text).
local skynet = require "skynet"
local cluster = require "skynet.cluster"
local skytest = require "skytest"

local methods = {}

-- cluster.call(node, addr, ...)
function methods.call(node, addr, ...)
	return pcall(cluster.call, node, addr, ...)
end

-- cluster.send(node, addr, ...); true once queued (Skynet reports nothing).
function methods.send(node, addr, ...)
	cluster.send(node, addr, ...)
	return true
end

-- n pushes cluster.send(node, addr, key, i[, big]) for i = 1..n, where
-- every `big_every`-th one carries a string of `big_size` bytes.
function methods.send_seq(node, addr, key, n, big_every, big_size)
	for i = 1, n do
		local big
		if big_every and big_every > 0 and i % big_every == 0 then
			big = string.rep("b", big_size)
		end
		cluster.send(node, addr, key, i, big)
	end
	return true
end

-- skynet.call through cluster.proxy(node, name).
function methods.proxy_call(node, name, ...)
	local ok, proxy = pcall(cluster.proxy, node, name)
	if not ok then
		return false, proxy
	end
	return pcall(skynet.call, proxy, "lua", ...)
end

-- skynet.call through the one-string form cluster.proxy("node@name").
function methods.proxy_call_at(target, ...)
	local ok, proxy = pcall(cluster.proxy, target)
	if not ok then
		return false, proxy
	end
	return pcall(skynet.call, proxy, "lua", ...)
end

-- skynet.send through cluster.proxy(node, name).
function methods.proxy_send(node, name, ...)
	local proxy = cluster.proxy(node, name)
	skynet.send(proxy, "lua", ...)
	return true
end

-- cluster.query(node, name)
function methods.query(node, name)
	return pcall(cluster.query, node, name)
end

-- cluster.query(node, name), then cluster.call(node, handle, ...): true,
-- the handle and the reply's values; or false and the error.
function methods.query_call(node, name, ...)
	local ok, handle = pcall(cluster.query, node, name)
	if not ok then
		return false, handle
	end
	return (function(ok, ...)
		if not ok then
			return false, ...
		end
		return true, handle, ...
	end)(pcall(cluster.call, node, handle, ...))
end

-- Calls node/addr with the values of `literal` (after `method`, unless it
-- is nil) and compares the reply with them strictly: true, same[, why];
-- or false and the call's error.
function methods.roundtrip(node, addr, method, literal)
	local values = skytest.values(literal)
	local r
	if method then
		r = table.pack(pcall(cluster.call, node, addr, method, table.unpack(values, 1, values.n)))
	else
		r = table.pack(pcall(cluster.call, node, addr, table.unpack(values, 1, values.n)))
	end
	if not r[1] then
		return false, r[2]
	end
	local reply = table.pack(table.unpack(r, 2, r.n))
	return true, skytest.same_list(values, reply)
end

-- Calls node/addr with a string of `size` bytes `ch` and checks the reply
-- is that string: true, same; or false and the error.
function methods.big_roundtrip(node, addr, size, ch)
	local s = string.rep(ch or "y", size)
	local ok, reply = pcall(cluster.call, node, addr, s)
	if not ok then
		return false, reply
	end
	return true, reply == s, type(reply) == "string" and #reply or -1
end

-- cluster.call with a trace tag set by skynet.trace: the tag (as this
-- service knew it) and pcall's outcome.
function methods.traced_call(node, addr, ...)
	skynet.trace("skytest")
	return skynet.tracetag(), pcall(cluster.call, node, addr, ...)
end

-- cluster.reload(tbl); with no table, re-reads the clustername file.
function methods.reload(tbl)
	cluster.reload(tbl)
	return true
end

-- cluster.register(name, handle)
function methods.register(name, handle)
	return pcall(cluster.register, name, handle)
end

-- cluster.unregister(name)
function methods.unregister(name)
	return pcall(cluster.unregister, name)
end

-- Loops of calls running in the background, for restarts: each records
-- "ok"/"fail" per call, and loop_wait blocks until the next outcome of a
-- kind.
local loops = {}

local function wake(loop, outcome)
	local w = loop.waiting
	if w and (w.kind == outcome or outcome == "done") then
		loop.waiting = nil
		skynet.wakeup(w.co)
	end
end

-- Starts `max` calls cluster.call(node, addr, ...), one every `period_ms`.
function methods.loop_start(key, node, addr, period_ms, max, ...)
	local args = table.pack(...)
	local loop = { outcomes = {}, last = {} }
	loops[key] = loop
	skynet.fork(function()
		for i = 1, max do
			if loop.stop then
				break
			end
			local ok, v = pcall(cluster.call, node, addr, table.unpack(args, 1, args.n))
			local outcome = ok and "ok" or "fail"
			loop.outcomes[#loop.outcomes + 1] = outcome
			loop.last[outcome] = v
			skynet.error(string.format("SKYTEST loop %s %d %s %s", key, i, outcome, tostring(v)))
			wake(loop, outcome)
			skynet.sleep(period_ms // 10)
		end
		loop.done = true
		wake(loop, "done")
	end)
	return true
end

-- Waits at most `timeout_ms` for the loop's next outcome `kind` ("ok" or
-- "fail"): whether it came, then every outcome so far and the last value
-- of each kind.
function methods.loop_wait(key, kind, timeout_ms)
	local loop = assert(loops[key], "no loop " .. tostring(key))
	local came = false
	if not loop.done then
		local w = { kind = kind, co = coroutine.running() }
		loop.waiting = w
		skynet.timeout(timeout_ms // 10, function()
			if loop.waiting == w then
				loop.waiting = nil
				w.timed_out = true
				skynet.wakeup(w.co)
			end
		end)
		skynet.wait(w.co)
		came = not w.timed_out and not loop.done
	end
	return came, table.concat(loop.outcomes, " "), loop.last.fail, loop.last.ok
end

-- Stops a loop after its current call; every outcome so far.
function methods.loop_stop(key)
	local loop = assert(loops[key], "no loop " .. tostring(key))
	loop.stop = true
	return table.concat(loop.outcomes, " ")
end

-- Runs Lua source with skynet, cluster and skytest in scope and the
-- arguments as `...`: pcall's outcome. For cases no method above covers.
function methods.eval(code, ...)
	local env = setmetatable({ skynet = skynet, cluster = cluster, skytest = skytest }, { __index = _G })
	local f, err = load(code, "=eval", "t", env)
	if not f then
		return false, err
	end
	return pcall(f, ...)
end

skynet.start(function()
	skytest.serve("control", methods)
end)
