-- The service Rust nodes call: registered as @callee, named .callee.
-- Every method is reachable as cluster.call(node, addr, "method", ...).
local skynet = require "skynet"
local skytest = require "skytest"

local methods = {}

-- Every argument back, nils included.
function methods.echo(...)
	return ...
end

-- Raises a Lua error: the caller sees Skynet's "call failed", the text
-- goes to this node's log.
function methods.fail(text)
	error(text)
end

-- A string of n bytes, each `ch` (default "x").
function methods.big(n, ch)
	return string.rep(ch or "x", n)
end

-- The length of each argument string and a checksum of its bytes: lets a
-- test send megabytes without receiving them back.
function methods.len(...)
	local r = {}
	for i = 1, select("#", ...) do
		local s = select(i, ...)
		local sum = 0
		for j = 1, #s, 997 do
			sum = (sum * 31 + s:byte(j)) % 0x7fffffff
		end
		r[#r + 1] = #s
		r[#r + 1] = sum
	end
	return table.unpack(r)
end

-- true when the arguments equal the values of the Lua literal list
-- `literal`, else false and where they differ.
function methods.check(literal, ...)
	return skytest.same_list(skytest.values(literal), table.pack(...))
end

-- math.type or type of every argument.
function methods.types(...)
	local r = table.pack(...)
	local out = {}
	for i = 1, r.n do
		out[i] = math.type(r[i]) or type(r[i])
	end
	return table.concat(out, ",")
end

-- Pushes in arrival order, per key.
local pushes = {}

function methods.push(key, seq, payload)
	local list = pushes[key]
	if not list then
		list = { seqs = {}, sizes = {} }
		pushes[key] = list
	end
	list.seqs[#list.seqs + 1] = seq
	list.sizes[#list.sizes + 1] = payload and #payload or 0
	skynet.error(string.format("SKYTEST push %s %s", key, tostring(seq)))
end

-- The seqs and payload sizes of the pushes recorded under `key`.
function methods.pushes(key)
	local list = pushes[key] or { seqs = {}, sizes = {} }
	return list.seqs, list.sizes
end

-- The trace tag this call arrived with, or nil.
function methods.trace()
	return skynet.tracetag()
end

-- Replies true after `ms` milliseconds (Skynet sleeps in 10 ms ticks).
function methods.sleep(ms)
	skynet.error(string.format("SKYTEST sleeping %d", ms))
	skynet.sleep(ms // 10)
	return true
end

-- Calls held until released, by key.
local held = {}

-- Replies (with the trace tag it arrived with) once `release(key)` comes.
function methods.hold(key)
	local co = coroutine.running()
	held[key] = co
	skynet.error(string.format("SKYTEST holding %s", key))
	skynet.wait(co)
	return skynet.tracetag()
end

-- Lets `hold(key)` reply: true if one was waiting.
function methods.release(key)
	local co = held[key]
	if not co then
		return false
	end
	held[key] = nil
	skynet.wakeup(co)
	return true
end

skynet.start(function()
	skytest.serve("callee", methods)
end)
