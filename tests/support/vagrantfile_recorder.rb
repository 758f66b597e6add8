# Loads a rendered Vagrantfile with Vagrant stubbed out and prints, as JSON, every string
# the file passed to Vagrant's configuration (arguments, keyword values, nested arrays).
# If a value from .env could run code, it would not come back as the same string.
require 'json'

$seen = []

class Recorder
  def method_missing(_name, *args, **kw, &blk)
    collect(args)
    collect(kw)
    blk&.call(Recorder.new, Recorder.new)
    Recorder.new
  end

  def respond_to_missing?(*)
    true
  end

  def collect(x)
    case x
    when String then $seen << x
    when Symbol then $seen << x.to_s
    when Array then x.each { |y| collect(y) }
    when Hash then x.each { |k, v| collect(k); collect(v) }
    end
  end
end

module Vagrant
  def self.configure(_version)
    yield Recorder.new
  end
end

load ARGV[0]
puts JSON.generate($seen)
